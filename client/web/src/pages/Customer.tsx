// One customer: profile, balance, its chart over time, why it is what it
// is, the event timeline, and (writer keys) record or reverse an event.
import { useMemo, useState } from "preact/hooks";
import { call, idempotencyKey, type D, type Role } from "../api";
import { BalanceChart } from "../chart";
import { useNotifications } from "../live";
import { Empty, ErrorBox, Pager, int, kindName, kinds, num, Status, useAction, useLoad, when } from "../ui";

const day = 86400_000;
const ranges: Array<[string, number, string]> = [
  ["30 days", 30, "21600s"],
  ["90 days", 90, "86400s"],
  ["1 year", 365, "86400s"],
];

export function CustomerPage(props: { id: string; role: Role }) {
  const id = props.id;
  const reads = props.role !== "writer";
  const [version, setVersion] = useState(0); // bumped when something changed
  const bump = () => setVersion((v) => v + 1);
  useNotifications((n) => n.customerId === id, bump, [id]);

  if (!id) return <Empty>No customer named. Open one from the outreach lists.</Empty>;
  return (
    <>
      <p><a href="#/outreach">← Outreach</a></p>
      {reads ? <Profile id={id} version={version} /> : <h1>{id}</h1>}
      {reads && <History id={id} version={version} />}
      {reads && <Explanation id={id} version={version} />}
      {reads && <WayBack id={id} version={version} />}
      {props.role !== "reader" && <RecordForm id={id} onRecorded={bump} />}
      {reads ? <Timeline id={id} version={version} canReverse={props.role !== "reader"} onReversed={bump} /> : (
        <Empty>A writer key records events but cannot read the ledger: sign in with a reader key to see this customer's balance and history.</Empty>
      )}
    </>
  );
}

function Profile(props: { id: string; version: number }) {
  const { data, error } = useLoad(async () => {
    const [c, b] = await Promise.all([
      call("get", "/v1/customers/{customerId}", { path: { customerId: props.id } }),
      call("get", "/v1/customers/{customerId}/balance", { path: { customerId: props.id } }),
    ]);
    return { c: c.customer, b: b.balance };
  }, [props.id, props.version]);
  if (error) return <><h1>{props.id}</h1><ErrorBox error={error} /></>;
  if (!data) return <h1>{props.id}</h1>;
  const { c, b } = data;
  return (
    <section>
      <h1>{c?.displayName || props.id}</h1>
      <dl class="facts">
        <div><dt>Customer id</dt><dd>{props.id}</dd></div>
        <div><dt>Segment</dt><dd>{c?.segment || "none"}</dd></div>
        <div><dt>Value weight</dt><dd>{num(c?.value, 1)}</dd></div>
        <div><dt>Balance</dt><dd data-testid="balance">{num(b?.balance)}</dd></div>
        <div><dt>Status</dt><dd data-testid="status"><Status status={b?.status} /></dd></div>
        <div><dt>Overdraft limit</dt><dd>{num(b?.overdraftLimit)}</dd></div>
        <div><dt>Events</dt><dd>{int(b?.eventCount)}</dd></div>
        <div><dt>Policy</dt><dd>version {b?.policyVersion}</dd></div>
      </dl>
    </section>
  );
}

function History(props: { id: string; version: number }) {
  const [range, setRange] = useState(0);
  const [label, days, step] = ranges[range];
  const { data, error } = useLoad(async () => {
    const end = new Date();
    const start = new Date(end.getTime() - days * day);
    const [h, b, ev] = await Promise.all([
      call("get", "/v1/customers/{customerId}/balance/history", {
        path: { customerId: props.id },
        query: { start: start.toISOString(), end: end.toISOString(), step },
      }),
      call("get", "/v1/customers/{customerId}/balance", { path: { customerId: props.id } }),
      call("get", "/v1/customers/{customerId}/events", {
        path: { customerId: props.id },
        query: { startTime: start.toISOString(), pageSize: 1000 },
      }),
    ]);
    return { h, limit: b.balance?.overdraftLimit ?? 0, events: ev.events ?? [] };
  }, [props.id, props.version, range]);
  const series = useMemo(() => {
    const pts = data?.h.points ?? [];
    return {
      times: pts.map((p) => Date.parse(p.at ?? "") / 1000),
      balances: pts.map((p) => p.balance ?? 0),
      events: (data?.events ?? []).map((e) => Date.parse(e.occurredAt ?? "") / 1000),
    };
  }, [data]);
  return (
    <section>
      <h2>Balance over time</h2>
      <div class="tabs" role="group" aria-label="Range">
        {ranges.map(([l], i) => (
          <button type="button" aria-pressed={i === range} onClick={() => setRange(i)}>{l}</button>
        ))}
      </div>
      <ErrorBox error={error} />
      {data && <BalanceChart times={series.times} balances={series.balances} limit={data.limit} events={series.events} />}
      {data && <p class="sub">The last {label}: the line is the balance, the dashed line the overdraft limit, each mark under the axis an event.</p>}
    </section>
  );
}

function Explanation(props: { id: string; version: number }) {
  const { data, error } = useLoad(
    () => call("get", "/v1/customers/{customerId}/balance:explain", { path: { customerId: props.id }, query: { top: 5 } }),
    [props.id, props.version],
  );
  return (
    <section>
      <h2>Why</h2>
      <ErrorBox error={error} />
      {data && <p data-testid="summary">{data.summary}</p>}
      {data && (data.contributions ?? []).length > 0 && (
        <div class="scroll">
          <table>
            <thead><tr><th>Kind</th><th class="n">Events</th><th class="n">Points now</th></tr></thead>
            <tbody>
              {(data.contributions ?? []).map((c) => (
                <tr><td>{kindName(c.kind)}</td><td class="n">{int(c.events)}</td><td class="n">{num(c.points)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && (data.topEvents ?? []).length > 0 && (
        <>
          <h3>The events that weigh most</h3>
          <ul class="plain">
            {(data.topEvents ?? []).map((t) => (
              <li>
                <strong>{num(t.pointsNow)}</strong> {kindName(t.event?.kind)} on {when(t.event?.occurredAt)}
                {t.rule && <span class="badge">{t.rule}</span>}: {t.explanation}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

// WayBack shows the recovery plan of an overdrawn customer: the smallest
// gesture of each kind that brings the balance back to its limit now, what
// the context rules make each worth, and when time alone would. Nothing is
// shown for a customer within its limit.
function WayBack(props: { id: string; version: number }) {
  const { data, error } = useLoad(
    () => call("get", "/v1/customers/{customerId}/balance:recoveryPlan", { path: { customerId: props.id } }),
    [props.id, props.version],
  );
  if (!error && (!data || (data.options ?? []).length === 0)) return null;
  return (
    <section data-testid="way-back">
      <h2>The way back</h2>
      <ErrorBox error={error} />
      {data && <p data-testid="plan-summary">{data.summary}</p>}
      {data && (
        <div class="scroll">
          <table>
            <thead><tr><th>Kind</th><th class="n">One event of</th><th class="n">Or events of 1</th><th class="n">Counts now</th></tr></thead>
            <tbody>
              {(data.options ?? []).map((o) => (
                <tr>
                  <td>{kindName(o.kind)}</td>
                  <td class="n">{o.magnitude ? num(o.magnitude) : "out of reach"}</td>
                  <td class="n">{o.events ? int(o.events) : "more than 10,000"}</td>
                  <td class="n">×{num(o.factor)}{o.rule && <span class="badge">{o.rule}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="sub">Each alone, recorded now; computed under the active policy, nothing is written.</p>
    </section>
  );
}

const recordable = kinds.filter(([k]) => k !== "EVENT_KIND_REVERSAL");

function RecordForm(props: { id: string; onRecorded: () => void }) {
  const [kind, setKind] = useState<D["v1EventKind"]>("EVENT_KIND_RESPONSE");
  const [magnitude, setMagnitude] = useState("1");
  const [note, setNote] = useState("");
  // One key per submission: a retried submit (a double click, a network
  // failure) replays the same event instead of recording it twice.
  const [key, setKey] = useState(idempotencyKey);
  const [done, setDone] = useState<D["v1RecordEventResponse"] | null>(null);
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const m = Number(magnitude);
      const r = await call("post", "/v1/customers/{customerId}/events", {
        path: { customerId: props.id },
        body: { kind, magnitude: magnitude.trim() === "" || Number.isNaN(m) ? undefined : m, note: note || undefined, idempotencyKey: key, source: "console" },
      });
      setDone(r);
      setKey(idempotencyKey());
      props.onRecorded();
    });
  };
  return (
    <section>
      <h2>Record an event</h2>
      <form class="grid" onSubmit={submit} data-testid="record-form">
        <label for="kind">Kind</label>
        <select id="kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as D["v1EventKind"])}>
          {recordable.map(([k, l]) => <option value={k}>{l}</option>)}
        </select>
        <label for="magnitude">Magnitude</label>
        <input id="magnitude" inputMode="decimal" value={magnitude} onInput={(e) => setMagnitude((e.target as HTMLInputElement).value)} />
        <label for="note">Note</label>
        <input id="note" value={note} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
        <span />
        <button type="submit" disabled={busy}>{busy ? "Recording…" : "Record"}</button>
      </form>
      <ErrorBox error={error} />
      {done && (
        <div class="ok" role="status" data-testid="recorded">
          Recorded {kindName(done.event?.kind)} ({done.event?.eventId}){done.replayed ? ", a replay of an earlier submission" : ""}
          {done.balance ? `; the balance is now ${num(done.balance.balance)}.` : "."}{" "}
          {/* A writer key cannot list events: this is where it can take back what it just recorded. */}
          <UndoButton e={done.event ?? {}} label="Undo" onReversed={() => { setDone(null); props.onRecorded(); }} />
        </div>
      )}
    </section>
  );
}

function Timeline(props: { id: string; version: number; canReverse: boolean; onReversed: () => void }) {
  const [filter, setFilter] = useState<string[]>([]);
  const [tokens, setTokens] = useState<string[]>([""]);
  const page = tokens.length - 1;
  const { data, error, loading } = useLoad(
    () => call("get", "/v1/customers/{customerId}/events", {
      path: { customerId: props.id },
      query: { pageSize: 20, pageToken: tokens[page], kinds: filter as D["v1EventKind"][] },
    }),
    [props.id, props.version, tokens, filter],
  );
  const toggle = (k: string) => {
    setFilter(filter.includes(k) ? filter.filter((x) => x !== k) : [...filter, k]);
    setTokens([""]);
  };
  return (
    <section>
      <h2>Events</h2>
      <fieldset class="chips">
        <legend>Show only</legend>
        {kinds.map(([k, l]) => (
          <label><input type="checkbox" checked={filter.includes(k)} onChange={() => toggle(k)} /> {l}</label>
        ))}
      </fieldset>
      <ErrorBox error={error} />
      {data && (data.events ?? []).length === 0 ? (
        <Empty>No events{filter.length ? " of these kinds" : ""} yet.</Empty>
      ) : (
        <div class="scroll">
          <table data-testid="events">
            <thead><tr><th>When</th><th>Kind</th><th class="n">Magnitude</th><th>Note</th><th></th></tr></thead>
            <tbody>
              {(data?.events ?? []).map((e) => (
                <EventRow e={e} canReverse={props.canReverse} onReversed={props.onReversed} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager tokens={tokens} setTokens={setTokens} next={data?.nextPageToken} loading={loading} />
    </section>
  );
}

/** Reverses one event after a confirmation, with one idempotency key. */
function UndoButton(props: { e: D["v1Event"]; onReversed: () => void; label?: string }) {
  const e = props.e;
  const [confirming, setConfirming] = useState(false);
  const [key] = useState(idempotencyKey);
  const { error, run } = useAction();
  const reverse = () =>
    run(async () => {
      await call("post", "/v1/customers/{customerId}/events/{eventId}:reverse", {
        path: { customerId: e.customerId ?? "", eventId: e.eventId ?? "" },
        body: { idempotencyKey: key, source: "console" },
      });
      setConfirming(false);
      props.onReversed();
    });
  return (
    <>
      {!confirming && <button type="button" class="small" onClick={() => setConfirming(true)}>{props.label ?? "Reverse"}</button>}
      {confirming && (
        <span class="confirm" role="group" aria-label="Confirm the reversal">
          Reverse this {kindName(e.kind).toLowerCase()}?{" "}
          <button type="button" class="small danger" onClick={reverse}>Yes, reverse</button>{" "}
          <button type="button" class="small" onClick={() => setConfirming(false)}>Cancel</button>
        </span>
      )}
      <ErrorBox error={error} />
    </>
  );
}

function EventRow(props: { e: D["v1Event"]; canReverse: boolean; onReversed: () => void }) {
  const e = props.e;
  const reversible = props.canReverse && e.kind !== "EVENT_KIND_REVERSAL" && !e.reversedByEventId;
  return (
    <tr class={e.reversedByEventId ? "reversed" : ""}>
      <td>{when(e.occurredAt)}</td>
      <td>{kindName(e.kind)}{e.reversedByEventId && <span class="badge">reversed</span>}</td>
      <td class="n">{e.magnitude ?? ""}</td>
      <td>{e.note}{e.incidentId && <div class="sub">incident {e.incidentId}</div>}</td>
      <td>{reversible && <UndoButton e={e} onReversed={props.onReversed} />}</td>
    </tr>
  );
}
