// Trust per segment: how many customers, how many overdrawn, the spread of
// balances, and the value at risk.
import { useMemo, useState } from "preact/hooks";
import { call, type Role } from "../api";
import { SpreadChart, TrendChart } from "../chart";
import { useNotifications } from "../live";
import { Empty, ErrorBox, int, num, useAction, useLoad, when } from "../ui";

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
          <Trend role={props.role} segments={rows.filter((s) => !s.overall && s.segment).map((s) => s.segment ?? "")} />
        </>
      )}
    </>
  );
}

/** YYYY-MM-DD of the day n days from today (UTC). */
const dayFrom = (n: number) => new Date(Date.now() + n * 86400_000).toISOString().slice(0, 10);

/**
 * A segment's (or everyone's) daily snapshots: is trust falling since
 * that change? Admins can backfill the days before snapshots began.
 */
function Trend(props: { role: Role; segments: string[] }) {
  const [segment, setSegment] = useState("");
  const [span, setSpan] = useState(30);
  const { data, error, reload } = useLoad(
    () => call("get", "/v1/balances:trend", { query: { segment: segment || undefined, start: dayFrom(-span), end: dayFrom(-1) } }),
    [segment, span],
  );
  const backfill = useAction();
  const pts = data?.points ?? [];
  const series = useMemo(() => ({
    days: pts.map((p) => p.day ?? ""),
    mean: pts.map((p) => p.mean ?? 0),
    p10: pts.map((p) => p.p10 ?? 0),
    p90: pts.map((p) => p.p90 ?? 0),
    overdrawn: pts.map((p) => Number(p.overdrawn ?? 0)),
  }), [data]);
  const first = pts[0], last = pts[pts.length - 1];
  return (
    <section data-testid="trend">
      <h2>Trend</h2>
      <div class="inline">
        <label for="trend-segment">Segment</label>
        <select id="trend-segment" value={segment} onChange={(e) => setSegment((e.target as HTMLSelectElement).value)}>
          <option value="">All segments</option>
          {props.segments.map((s) => <option value={s}>{s}</option>)}
        </select>
        <label for="trend-span">Days</label>
        <select id="trend-span" value={span} onChange={(e) => setSpan(Number((e.target as HTMLSelectElement).value))}>
          {[30, 90, 365].map((n) => <option value={n}>{n}</option>)}
        </select>
      </div>
      <ErrorBox error={error ?? backfill.error} />
      {data && pts.length === 0 && (
        <Empty>
          No daily snapshots in this range yet: goodwilld takes one at the end of each day (UTC).
          {props.role === "admin" && (
            <> <button type="button" disabled={backfill.busy} data-testid="backfill"
              onClick={() => backfill.run(async () => {
                // A large tenant's backfill outlasts one call: call again
                // (joining the same run) until it is done.
                for (;;) {
                  const r = await call("post", "/v1/balances:snapshotTrend", { body: { start: dayFrom(-span), end: dayFrom(-1) } });
                  if (r.done) break;
                }
                reload();
              })}>{backfill.busy ? "Replaying…" : `Backfill the last ${span} days`}</button></>
          )}
        </Empty>
      )}
      {pts.length > 0 && (
        <>
          <TrendChart {...series} />
          <p class="sub">
            Each day's summary at its end (UTC). From {first.day} to {last.day}: mean {num(first.mean)} → {num(last.mean)},
            overdrawn {int(first.overdrawn)} → {int(last.overdrawn)}, value at risk {num(first.valueAtRisk, 1)} → {num(last.valueAtRisk, 1)}.
          </p>
        </>
      )}
    </section>
  );
}
