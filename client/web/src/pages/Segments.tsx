// Trust per segment: how many customers, how many overdrawn, the spread of
// balances, and the value at risk.
import { useMemo } from "preact/hooks";
import { call, type Role } from "../api";
import { SpreadChart } from "../chart";
import { useNotifications } from "../live";
import { Empty, ErrorBox, int, num, useLoad, when } from "../ui";

export function Segments(props: { role: Role }) {
  const { data, error, reload } = useLoad(() => call("get", "/v1/balances:summarize", { query: {} }), []);
  useNotifications((n) => n.type !== "event.recorded", reload, []);
  const rows = data?.segments ?? [];
  const chart = useMemo(() => {
    const segs = rows.filter((s) => !s.overall);
    return {
      labels: segs.map((s) => s.segment || "(none)"),
      p10: segs.map((s) => s.p10 ?? 0),
      p50: segs.map((s) => s.p50 ?? 0),
      p90: segs.map((s) => s.p90 ?? 0),
    };
  }, [data]);
  if (props.role === "writer") return <Empty>A writer key cannot read summaries: sign in with a reader key.</Empty>;
  return (
    <>
      <h1>Segments</h1>
      <p class="lead">Each segment's trust at a glance. Value at risk sums the value weights of overdrawn customers.</p>
      <ErrorBox error={error} />
      {data && rows.length === 0 && <Empty>No customers yet. Record events (or import them) and the segments appear here.</Empty>}
      {rows.length > 0 && (
        <>
          <div class="scroll">
            <table data-testid="segments">
              <thead>
                <tr><th>Segment</th><th class="n">Customers</th><th class="n">Overdrawn</th><th class="n">Mean</th>
                  <th class="n">p10</th><th class="n">p50</th><th class="n">p90</th><th class="n">Value at risk</th></tr>
              </thead>
              <tbody>
                {rows.map((s) => (
                  <tr class={s.overall ? "total" : ""}>
                    <td>{s.overall ? "All segments" : s.segment || "(none)"}</td>
                    <td class="n">{int(s.customers)}</td>
                    <td class="n">{int(s.overdrawn)}</td>
                    <td class="n">{num(s.mean)}</td>
                    <td class="n">{num(s.p10)}</td>
                    <td class="n">{num(s.p50)}</td>
                    <td class="n">{num(s.p90)}</td>
                    <td class="n">{num(s.valueAtRisk, 1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Distribution</h2>
          <SpreadChart {...chart} />
          <p class="sub">For each segment: the 10th percentile, the median and the 90th percentile of balances. As of {when(data?.asOf)}, policy version {data?.policyVersion}.</p>
        </>
      )}
    </>
  );
}
