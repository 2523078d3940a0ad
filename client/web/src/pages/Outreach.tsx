// The home page: whom to contact first to win trust back (RECOVERY), and
// which loyal customers to nurture (ADVOCACY).
import { useState } from "preact/hooks";
import { call, type D, type Role } from "../api";
import { useNotifications } from "../live";
import { Empty, ErrorBox, Pager, num, Status, useLoad } from "../ui";

type Purpose = "OUTREACH_PURPOSE_RECOVERY" | "OUTREACH_PURPOSE_ADVOCACY";

const pageSize = 25;

export function Outreach(props: { role: Role }) {
  return (
    <>
      <h1>Outreach</h1>
      <p class="lead">
        Who to call first. <strong>Recovery</strong> lists customers whose trust is in deficit, the most urgent
        first; <strong>Advocacy</strong> lists loyal customers whose goodwill is growing: thank them, ask them to speak
        for you.
      </p>
      {props.role !== "writer" ? (
        <div class="columns">
          <OutreachList purpose="OUTREACH_PURPOSE_RECOVERY" title="Recovery" />
          <OutreachList purpose="OUTREACH_PURPOSE_ADVOCACY" title="Advocacy" />
        </div>
      ) : (
        <Empty>A writer key records events and incidents but cannot read the ledger. Sign in with a reader key to see the lists.</Empty>
      )}
    </>
  );
}

function OutreachList(props: { purpose: Purpose; title: string }) {
  const [segment, setSegment] = useState("");
  const [filter, setFilter] = useState("");
  // tokens[i] is the token of page i; the first page has none.
  const [tokens, setTokens] = useState<string[]>([""]);
  const page = tokens.length - 1;
  const { data, error, loading, reload } = useLoad(
    () => call("get", "/v1/outreach", { query: { purpose: props.purpose, pageSize, pageToken: tokens[page], segment } }),
    [props.purpose, segment, tokens],
  );
  // A change of balance or status anywhere may move the list.
  const live = useNotifications(() => true, reload, []);
  const id = props.purpose.toLowerCase();
  return (
    <section aria-labelledby={id} data-testid={id}>
      <h2 id={id}>
        {props.title} {live && <span class="live" title="Updates as notifications arrive">live</span>}
      </h2>
      <form class="inline" onSubmit={(e) => {
        e.preventDefault();
        setSegment(filter.trim());
        setTokens([""]);
      }}>
        <label for={`${id}-segment`}>Segment</label>
        <input id={`${id}-segment`} value={filter} placeholder="all" onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={error} />
      {data?.approximateOrder && <p class="note">A new policy is being applied: the list is complete but ordered by balance until it finishes.</p>}
      {data && (data.entries ?? []).length === 0 ? (
        <Empty>
          {props.purpose === "OUTREACH_PURPOSE_RECOVERY"
            ? "Nobody's trust is in deficit" + (segment ? ` in segment “${segment}”` : "") + ". Outages, complaints and broken promises put customers here."
            : "No advocates yet" + (segment ? ` in segment “${segment}”` : "") + ". Customers whose balance is positive and rising appear here."}
        </Empty>
      ) : (
        data && <EntryTable entries={data.entries ?? []} />
      )}
      <Pager tokens={tokens} setTokens={setTokens} next={data?.nextPageToken} loading={loading} />
    </section>
  );
}

function EntryTable(props: { entries: D["v1OutreachEntry"][] }) {
  return (
    <div class="scroll">
      <table class="stack">
        <thead>
          <tr><th>Customer</th><th class="n">Priority</th><th class="n">Balance</th><th class="n">Value</th><th>Why</th></tr>
        </thead>
        <tbody>
          {props.entries.map((e) => (
            <tr>
              <td class="who">
                <a href={`#/customers/${encodeURIComponent(e.customerId ?? "")}`}>{e.displayName || e.customerId}</a>
                <div class="sub">{e.customerId}{e.segment ? ` · ${e.segment}` : ""}</div>
              </td>
              <td class="n" data-label="Priority">{num(e.priority)}</td>
              <td class="n" data-label="Balance">{num(e.balance?.balance)} <Status status={e.balance?.status} /></td>
              <td class="n" data-label="Value">{num(e.value, 1)}</td>
              <td class="why"><ul class="reasons">{(e.reasons ?? []).map((r) => <li>{r}</li>)}</ul></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
