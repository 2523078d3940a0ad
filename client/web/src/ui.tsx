// Small pieces every page uses: errors as the API states them, loading
// and empty states, number and date formats, and kind names in words.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, type D } from "./api";

/** An error as the API stated it: code, message, and every field named. */
export function ErrorBox(props: { error: unknown }) {
  const e = props.error;
  if (!e) return null;
  if (e instanceof ApiError) {
    return (
      <div class="error" role="alert">
        <strong>{e.code}</strong>: {e.message}
        {e.fields.length > 0 && (
          <ul>
            {e.fields.map((f) => (
              <li><code>{f.field}</code>: {f.description}</li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return <div class="error" role="alert">{e instanceof Error ? e.message : String(e)}</div>;
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

/** A page's data, loaded by load and reloaded when deps change or reload() is called. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export const num = (v: number | undefined, digits = 2) =>
  (v ?? 0).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const int = (v: string | number | undefined) => Number(v ?? 0).toLocaleString("en-US");

export const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "");

export const kinds: Array<[D["v1EventKind"], string]> = [
  ["EVENT_KIND_CREDIT", "Bill credit"],
  ["EVENT_KIND_RELIABLE_DELIVERY", "Reliable delivery"],
  ["EVENT_KIND_RESPONSE", "Support response or apology"],
  ["EVENT_KIND_PROACTIVE_NOTICE", "Advance notice"],
  ["EVENT_KIND_SUGGESTION_ADOPTED", "Suggestion adopted"],
  ["EVENT_KIND_ENGAGEMENT", "Engagement"],
  ["EVENT_KIND_OUTAGE", "Outage"],
  ["EVENT_KIND_COMPLAINT", "Complaint"],
  ["EVENT_KIND_SERVICE_CHANGE", "Service change"],
  ["EVENT_KIND_BROKEN_PROMISE", "Broken promise"],
  ["EVENT_KIND_REVERSAL", "Reversal"],
];

export const kindName = (k: string | undefined) => kinds.find(([v]) => v === k)?.[1] ?? (k ?? "").replace("EVENT_KIND_", "");

export function Status(props: { status?: D["v1BalanceStatus"] }) {
  const over = props.status === "BALANCE_STATUS_OVERDRAWN";
  return <span class={over ? "badge bad" : "badge good"}>{over ? "Overdrawn" : "Healthy"}</span>;
}

/**
 * Previous and next over a list paged by tokens: tokens[i] is the token of
 * page i ("" for the first), next the reply's next_page_token.
 */
export function Pager(props: { tokens: string[]; setTokens: (t: string[]) => void; next?: string; loading: boolean }) {
  const { tokens, setTokens, next, loading } = props;
  return (
    <div class="pager">
      <button type="button" disabled={tokens.length === 1 || loading} onClick={() => setTokens(tokens.slice(0, -1))}>Previous</button>
      <span>Page {tokens.length}</span>
      <button type="button" disabled={!next || loading} onClick={() => setTokens([...tokens, next!])}>Next</button>
    </div>
  );
}

/**
 * A form's submission: run(fn) marks it busy, clears the last error, runs
 * fn and keeps what it throws, shown with <ErrorBox error={error} />.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
