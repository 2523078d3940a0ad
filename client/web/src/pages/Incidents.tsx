// Record an outage for many customers at once, with the advance notice
// and the credit that went with it.
import { useState } from "preact/hooks";
import { call, type D, type Role } from "../api";
import { Empty, ErrorBox, useAction } from "../ui";

/** Customer ids from pasted text: separated by commas, spaces or lines. */
export function idsFromText(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/**
 * Customer ids from a CSV file: the column named customer_id (or
 * customerId, id), else the first column; a header row is skipped.
 */
export function idsFromCSV(text: string): string[] {
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== "").map((l) => l.split(",").map((c) => c.trim().replace(/^"|"$/g, "")));
  if (rows.length === 0) return [];
  const header = rows[0].map((h) => h.toLowerCase());
  let col = header.findIndex((h) => h === "customer_id" || h === "customerid" || h === "id");
  const hasHeader = col >= 0;
  if (col < 0) col = 0;
  return [...new Set(rows.slice(hasHeader ? 1 : 0).map((r) => r[col] ?? "").filter(Boolean))];
}

const localToISO = (v: string) => (v ? new Date(v).toISOString() : undefined);
const optNum = (v: string) => (v.trim() === "" ? undefined : Number(v));

export function Incidents(props: { role: Role }) {
  const [incidentId, setIncidentId] = useState(() => `inc-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 6)}`);
  const [ids, setIds] = useState("");
  const [hours, setHours] = useState("1");
  const [severity, setSeverity] = useState("");
  const [started, setStarted] = useState("");
  const [notice, setNotice] = useState("");
  const [credit, setCredit] = useState("");
  const [note, setNote] = useState("");
  const [result, setResult] = useState<D["v1RecordIncidentResponse"] | null>(null);
  const { busy, error, run } = useAction();

  if (props.role === "reader") {
    return <Empty>Recording incidents needs a writer or admin key; this reader key can see the ledger only.</Empty>;
  }
  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) setIds(idsFromCSV(await f.text()).join("\n"));
  };
  const submit = (e: Event) => {
    e.preventDefault();
    setResult(null);
    run(async () => {
      // The incident id is the idempotency key: sending the same form
      // again changes nothing, and adding customers adds only them.
      setResult(await call("post", "/v1/incidents", {
        body: {
          incidentId: incidentId.trim(),
          customerIds: idsFromText(ids),
          durationHours: optNum(hours),
          severity: optNum(severity),
          startedAt: localToISO(started),
          noticeAt: localToISO(notice),
          credit: optNum(credit),
          note: note || undefined,
          source: "console",
        },
      }));
    });
  };
  const count = idsFromText(ids).length;
  return (
    <>
      <h1>Record an incident</h1>
      <p class="lead">
        An outage for every customer it touched. Warning them beforehand softens it; a credit afterwards helps most
        where the relationship was good. Sending the same incident again changes nothing.
      </p>
      <form class="grid" onSubmit={submit} data-testid="incident-form">
        <label for="incident-id">Incident id</label>
        <input id="incident-id" value={incidentId} required onInput={(e) => setIncidentId((e.target as HTMLInputElement).value)} />
        <label for="ids">Customer ids</label>
        <div>
          <textarea id="ids" rows={5} value={ids} placeholder="one per line, or separated by commas"
            onInput={(e) => setIds((e.target as HTMLTextAreaElement).value)} />
          <div class="sub">{count} customer{count === 1 ? "" : "s"}. Or load a CSV file (a customer_id column, or the first column):{" "}
            <input type="file" accept=".csv,text/csv,text/plain" aria-label="CSV file of customer ids" onChange={onFile} /></div>
        </div>
        <label for="hours">Duration (hours)</label>
        <input id="hours" inputMode="decimal" value={hours} onInput={(e) => setHours((e.target as HTMLInputElement).value)} />
        <label for="severity">Severity</label>
        <input id="severity" inputMode="decimal" placeholder="1" value={severity} onInput={(e) => setSeverity((e.target as HTMLInputElement).value)} />
        <label for="started">Started at</label>
        <input id="started" type="datetime-local" value={started} onInput={(e) => setStarted((e.target as HTMLInputElement).value)} />
        <label for="notice">Customers warned at</label>
        <input id="notice" type="datetime-local" value={notice} onInput={(e) => setNotice((e.target as HTMLInputElement).value)} />
        <label for="credit">Credit per customer</label>
        <input id="credit" inputMode="decimal" value={credit} onInput={(e) => setCredit((e.target as HTMLInputElement).value)} />
        <label for="inote">Note</label>
        <input id="inote" value={note} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
        <span />
        <button type="submit" disabled={busy}>{busy ? "Recording…" : "Record incident"}</button>
      </form>
      <ErrorBox error={error} />
      {result && (
        <div class="ok" role="status" data-testid="incident-result">
          <p>
            Incident <strong>{result.incidentId}</strong>: {result.customers ?? 0} customers, {result.eventsCreated ?? 0} events
            created, {result.eventsReplayed ?? 0} already there.
          </p>
          {(result.conflicts ?? []).length > 0 && (
            <>
              <p>In conflict (nothing written for them):</p>
              <ul>{(result.conflicts ?? []).map((c) => <li><code>{c.customerId}</code>: {c.error}</li>)}</ul>
            </>
          )}
        </div>
      )}
    </>
  );
}
