// The scoring policy: the active version, older ones, and (admin keys) an
// editor that installs a new version and follows its recompute job.
import { useEffect, useState } from "preact/hooks";
import { call, idempotencyKey, type D, type Role } from "../api";
import { Empty, ErrorBox, int, kindName, kinds, num, useAction, useLoad, when } from "../ui";

/** A policy's weights in the console's kind order (deposits, then withdrawals). */
const byKind = (w: Record<string, number> | undefined) => {
  const order = (k: string) => { const i = kinds.findIndex(([v]) => v === k); return i < 0 ? kinds.length : i; };
  return Object.entries(w ?? {}).sort(([a], [b]) => order(a) - order(b));
};

type Policy = D["v1Policy"];

export function PolicyPage(props: { role: Role }) {
  const [version, setVersion] = useState(0); // 0: the active one
  const [installed, setInstalled] = useState<D["v1RecomputeJob"] | null>(null);
  const { data, error, reload } = useLoad(
    () => call("get", "/v1/policy", { query: { version: version ? String(version) : undefined } }),
    [version, installed?.jobId],
  );
  if (props.role === "writer") return <Empty>A writer key cannot read the policy: sign in with a reader or admin key.</Empty>;
  const active = Number(data?.activeVersion ?? 0);
  const shown = data?.policy;
  return (
    <>
      <h1>Scoring policy</h1>
      <p class="lead">How much each kind of event is worth, how fast goodwill fades, and the context rules.</p>
      <ErrorBox error={error} />
      {data && (
        <div class="inline">
          <label for="version">Version</label>
          <select id="version" value={version || active} onChange={(e) => setVersion(Number((e.target as HTMLSelectElement).value))}>
            {Array.from({ length: active }, (_, i) => active - i).map((v) => (
              <option value={v}>{v}{v === active ? " (active)" : ""}</option>
            ))}
          </select>
        </div>
      )}
      {shown && <PolicyView p={shown} />}
      {installed && <JobProgress job={installed} onDone={reload} />}
      {props.role === "admin" && data?.policy && (version === 0 || version === active) && (
        <PolicyEditor base={data.policy} onInstalled={(j) => { setVersion(0); setInstalled(j); }} />
      )}
      {props.role === "reader" && <p class="sub">Installing a new version needs an admin key.</p>}
    </>
  );
}

function PolicyView(props: { p: Policy }) {
  const p = props.p;
  return (
    <section data-testid="policy-view">
      <h2>Version {p.version}</h2>
      <p class="sub">Installed {when(p.createdAt)}.</p>
      <dl class="facts">
        <div><dt>Half-life</dt><dd>{days(p.halfLife)}</dd></div>
        <div><dt>Trend half-life</dt><dd>{days(p.trendHalfLife)}</dd></div>
        <div><dt>Default overdraft limit</dt><dd>{p.defaultOverdraftLimit ?? 0}</dd></div>
        <div><dt>Dust threshold</dt><dd>{p.dustThreshold ?? 0.5}</dd></div>
      </dl>
      <div class="scroll">
        <table>
          <thead><tr><th>Kind</th><th class="n">Points per unit</th></tr></thead>
          <tbody>
            {byKind(p.weights).map(([k, w]) => <tr><td>{kindName(k)}</td><td class="n">{w}</td></tr>)}
          </tbody>
        </table>
      </div>
    </section>
  );
}

const days = (d: string | undefined) => {
  const s = Number((d ?? "0s").replace(/s$/, ""));
  return s >= 86400 ? `${+(s / 86400).toFixed(2)} days` : `${s} s`;
};

function PolicyEditor(props: { base: Policy; onInstalled: (j: D["v1RecomputeJob"]) => void }) {
  const b = props.base;
  const [weights, setWeights] = useState<Record<string, string>>(() =>
    Object.fromEntries(byKind(b.weights).map(([k, v]) => [k, String(v)])));
  const [halfLife, setHalfLife] = useState(String(Number((b.halfLife ?? "0s").replace(/s$/, "")) / 86400));
  const [trend, setTrend] = useState(String(Number((b.trendHalfLife ?? "0s").replace(/s$/, "")) / 86400));
  const [limit, setLimit] = useState(String(b.defaultOverdraftLimit ?? 0));
  const [dust, setDust] = useState(String(b.dustThreshold ?? 0.5));
  const [rules, setRules] = useState(() => JSON.stringify({ relationship: b.relationship, notice: b.notice, changeNotice: b.changeNotice }, null, 2));
  const { busy, error, run } = useAction();
  // One key per submission: a retried submit replays the install.
  const [key, setKey] = useState(idempotencyKey);
  const [simulation, setSimulation] = useState<D["v1Simulation"] | null>(null);
  /** The policy the form holds. */
  const draft = (): Policy => {
    let extra: Partial<Policy>;
    try {
      extra = JSON.parse(rules);
    } catch (err) {
      throw new Error(`Context rules: not JSON (${(err as Error).message})`);
    }
    return {
      ...extra,
      weights: Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, Number(v)])),
      halfLife: `${Math.round(Number(halfLife) * 86400)}s`,
      trendHalfLife: `${Math.round(Number(trend) * 86400)}s`,
      defaultOverdraftLimit: Number(limit),
      dustThreshold: Number(dust),
    };
  };
  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const r = await call("put", "/v1/policy", { query: { idempotencyKey: key }, body: draft() });
      setKey(idempotencyKey());
      setSimulation(null);
      if (r.job) props.onInstalled(r.job);
    });
  };
  const simulate = () => run(async () => {
    const r = await call("post", "/v1/policy:simulate", { body: { policy: draft() } });
    setSimulation(r.simulation ?? null);
  });
  return (
    <section>
      <h2>Install a new version</h2>
      <p class="sub">Starts from the active version. Simulate first to see who would enter and leave each outreach list, without installing anything. Installing recomputes every customer's balance in the background; the lists say so until it finishes.</p>
      <form class="grid" onSubmit={submit} data-testid="policy-form">
        {Object.keys(weights).map((k) => (
          <>
            <label for={`w-${k}`}>{kindName(k)}</label>
            <input id={`w-${k}`} inputMode="decimal" value={weights[k]} onInput={(e) => setWeights({ ...weights, [k]: (e.target as HTMLInputElement).value })} />
          </>
        ))}
        <label for="half-life">Half-life (days)</label>
        <input id="half-life" inputMode="decimal" value={halfLife} onInput={(e) => setHalfLife((e.target as HTMLInputElement).value)} />
        <label for="trend">Trend half-life (days)</label>
        <input id="trend" inputMode="decimal" value={trend} onInput={(e) => setTrend((e.target as HTMLInputElement).value)} />
        <label for="limit">Default overdraft limit</label>
        <input id="limit" inputMode="decimal" value={limit} onInput={(e) => setLimit((e.target as HTMLInputElement).value)} />
        <label for="dust">Dust threshold</label>
        <input id="dust" inputMode="decimal" value={dust} onInput={(e) => setDust((e.target as HTMLInputElement).value)} />
        <label for="rules">Context rules (JSON)</label>
        <textarea id="rules" rows={10} value={rules} onInput={(e) => setRules((e.target as HTMLTextAreaElement).value)} />
        <span />
        <div class="inline">
          <button type="button" class="secondary" disabled={busy} onClick={simulate} data-testid="simulate">Simulate first</button>
          <button type="submit" disabled={busy}>{busy ? "Working…" : "Install"}</button>
        </div>
      </form>
      <ErrorBox error={error} />
      {simulation && <SimulationView start={simulation} />}
    </section>
  );
}

/**
 * Follows a simulation and shows what installing the draft would change:
 * who enters and leaves each outreach list, the biggest movers, and the
 * summary under both policies.
 */
function SimulationView(props: { start: D["v1Simulation"] }) {
  const [sim, setSim] = useState(props.start);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setSim(props.start);
    let stop = false;
    const poll = async () => {
      while (!stop) {
        try {
          const r = await call("get", "/v1/policy/simulations/{simulationId}", { path: { simulationId: props.start.simulationId ?? "" } });
          setSim(r.simulation ?? {});
          if (r.simulation?.state !== "JOB_STATE_RUNNING") return;
        } catch (err) {
          setError(err);
          return;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    poll();
    return () => {
      stop = true;
    };
  }, [props.start.simulationId]);
  const state = (sim.state ?? "").replace("JOB_STATE_", "").toLowerCase();
  const res = sim.result;
  const total = Number(sim.customersTotal ?? 0), done = Number(sim.customersDone ?? 0);
  const names = (ms: D["v1SimulatedMove"][] | undefined) => (ms ?? []).slice(0, 8).map((m) => m.customerId).join(", ");
  return (
    <section class="job" data-testid="simulation" data-state={state}>
      <h2>If version {sim.draft?.version} were installed</h2>
      {state === "running" && <progress max={total || 1} value={done} aria-label="Simulation progress" />}
      {state === "failed" && <p class="error">The simulation failed: {sim.error}</p>}
      <ErrorBox error={error} />
      {res && (
        <>
          <p class="sub">Every customer valued under both policies as of {when(sim.snapshotTime)}; nothing was installed.</p>
          <div class="scroll">
            <table data-testid="simulation-lists">
              <thead><tr><th>List</th><th class="n">Now</th><th class="n">Draft</th><th class="n">Enter</th><th class="n">Leave</th><th>Entering</th><th>Leaving</th></tr></thead>
              <tbody>
                {([["Recovery", res.recovery], ["Advocacy", res.advocacy]] as const).map(([name, l]) => (
                  <tr>
                    <td>{name}</td><td class="n">{int(l?.before)}</td><td class="n">{int(l?.after)}</td>
                    <td class="n">{int(l?.enteredCount)}</td><td class="n">{int(l?.leftCount)}</td>
                    <td>{names(l?.entered)}</td><td>{names(l?.left)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>Biggest movers</h3>
          <div class="scroll">
            <table data-testid="simulation-movers">
              <thead><tr><th>Customer</th><th>Segment</th><th class="n">Now</th><th class="n">Draft</th><th class="n">Change</th></tr></thead>
              <tbody>
                {(res.movers ?? []).slice(0, 20).map((m) => (
                  <tr>
                    <td><a href={`#/customers/${encodeURIComponent(m.customerId ?? "")}`}>{m.displayName || m.customerId}</a></td>
                    <td>{m.segment}</td><td class="n">{num(m.before?.balance)}</td><td class="n">{num(m.after?.balance)}</td>
                    <td class="n">{num(m.delta)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>Summary</h3>
          <div class="scroll">
            <table>
              <thead><tr><th>Segment</th><th class="n">Customers</th><th class="n">Overdrawn now</th><th class="n">Overdrawn draft</th>
                <th class="n">Mean now</th><th class="n">Mean draft</th><th class="n">At risk now</th><th class="n">At risk draft</th></tr></thead>
              <tbody>
                {(res.summaryBefore ?? []).map((b, i) => {
                  const a = res.summaryAfter?.[i];
                  return (
                    <tr class={b.overall ? "total" : ""}>
                      <td>{b.overall ? "All segments" : b.segment || "(none)"}</td><td class="n">{int(b.customers)}</td>
                      <td class="n">{int(b.overdrawn)}</td><td class="n">{int(a?.overdrawn)}</td>
                      <td class="n">{num(b.mean)}</td><td class="n">{num(a?.mean)}</td>
                      <td class="n">{num(b.valueAtRisk, 1)}</td><td class="n">{num(a?.valueAtRisk, 1)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function JobProgress(props: { job: D["v1RecomputeJob"]; onDone: () => void }) {
  const [job, setJob] = useState(props.job);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setJob(props.job);
    let stop = false;
    const poll = async () => {
      while (!stop) {
        try {
          const r = await call("get", "/v1/policy/jobs/{jobId}", { path: { jobId: props.job.jobId ?? "" } });
          setJob(r.job ?? {});
          if (r.job?.state !== "JOB_STATE_RUNNING") {
            props.onDone();
            return;
          }
        } catch (err) {
          setError(err);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    poll();
    return () => {
      stop = true;
    };
  }, [props.job.jobId]);
  const total = Number(job.customersTotal ?? 0), done = Number(job.customersDone ?? 0);
  const state = (job.state ?? "").replace("JOB_STATE_", "").toLowerCase();
  return (
    <section class="job" data-testid="job" data-state={state}>
      <h2>Recompute for version {job.policyVersion}</h2>
      <progress max={total || 1} value={total ? done : state === "succeeded" ? 1 : 0} aria-label="Recompute progress" />
      <p>{int(done)} of {int(total)} customers: <strong>{state}</strong>{job.error ? ` (${job.error})` : ""}</p>
      <ErrorBox error={error} />
    </section>
  );
}
