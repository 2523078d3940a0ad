// Typed calls to goodwilld's REST API. Paths, parameters, bodies and
// replies all come from src/gen/openapi.d.ts, which `make console`
// generates from the server's OpenAPI document: a proto change that breaks
// a call here breaks the console's build.
import type { definitions, paths } from "./gen/openapi";

export type D = definitions;
export type Method = "get" | "put" | "post" | "delete";

type Params<O> = O extends { parameters: infer P } ? P : {};
type PathArgs<O> = Params<O> extends { path: infer X } ? { path: X } : {};
type QueryArgs<O> = Params<O> extends { query: infer Q } ? { query?: Q } : {};
type BodyArgs<O> = Params<O> extends { body: infer B } ? { body: B[keyof B] } : {};
export type Args<O> = PathArgs<O> & QueryArgs<O> & BodyArgs<O>;
export type Reply<O> = O extends { responses: { 200: { schema: infer S } } } ? S : never;

/** One field the API named as invalid. */
export interface FieldProblem {
  field: string;
  description: string;
}

/** An error as the API stated it: its gRPC code name, message and fields. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldProblem[],
  ) {
    super(message);
  }
}

const codeNames: Record<number, string> = {
  3: "INVALID_ARGUMENT", 5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED",
};

const keyName = "goodwill.key";

/** The API key, kept for this tab only (never in a URL, a cookie or a log). */
export const session = {
  key: (): string => sessionStorage.getItem(keyName) ?? "",
  set: (k: string) => sessionStorage.setItem(keyName, k),
  clear: () => sessionStorage.removeItem(keyName),
};

/** Called when the API says the key is not (or no longer) valid. */
let onUnauthenticated = () => {};
export function whenUnauthenticated(f: () => void) {
  onUnauthenticated = f;
}

function url(path: string, args: { path?: object; query?: object }): string {
  let p = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = (args.path as Record<string, unknown> | undefined)?.[name];
    return encodeURIComponent(String(v ?? ""));
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(args.query ?? {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `${p}?${s}` : p;
}

async function fail(resp: Response): Promise<never> {
  let body: { code?: number; message?: string; details?: Array<Record<string, unknown>> } = {};
  try {
    body = await resp.json();
  } catch {
    // not JSON: a proxy's page, say; the status says enough
  }
  const fields: FieldProblem[] = [];
  for (const d of body.details ?? []) {
    for (const v of (d.fieldViolations as FieldProblem[] | undefined) ?? []) fields.push(v);
  }
  const code = codeNames[body.code ?? -1] ?? `HTTP ${resp.status}`;
  if (resp.status === 401) onUnauthenticated();
  throw new ApiError(resp.status, code, body.message ?? resp.statusText, fields);
}

/** Calls one API method: call("get", "/v1/outreach", {query: {...}}). */
export async function call<P extends keyof paths, M extends keyof paths[P] & Method>(
  method: M,
  path: P,
  args: Args<paths[P][M]>,
  key = session.key(),
): Promise<Reply<paths[P][M]>> {
  const a = args as { path?: object; query?: object; body?: unknown };
  const resp = await fetch(url(path as string, a), {
    method: method.toUpperCase(),
    headers: {
      Authorization: `Bearer ${key}`,
      ...(a.body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: a.body !== undefined ? JSON.stringify(a.body) : undefined,
  });
  if (!resp.ok) await fail(resp);
  return (await resp.json()) as Reply<paths[P][M]>;
}

/** A fresh idempotency key: one per form submission, reused if it is retried. */
export function idempotencyKey(): string {
  return `console-${crypto.randomUUID()}`;
}

export type Role = "reader" | "writer" | "admin";

/** Who a key is: its id, tenant and role. */
export interface Caller {
  keyId: string;
  tenant: string;
  role: Role;
}

const roles: Record<string, Role> = { ROLE_READER: "reader", ROLE_WRITER: "writer", ROLE_ADMIN: "admin" };

/** Asks the API what key is: any valid key may call GetCaller. */
export async function callerOf(key: string): Promise<Caller> {
  const r = await call("get", "/v1/caller", {}, key);
  const role = roles[r.role ?? ""];
  if (!role) throw new Error(`the API named an unknown role ${r.role}`);
  return { keyId: r.keyId ?? "", tenant: r.tenantId ?? "", role };
}

/**
 * Reads the notification stream (newline-delimited JSON through the REST
 * gateway) until signal aborts, calling onNotification for each one.
 * Reconnects after a failure with the last cursor seen, so nothing is
 * missed and nothing repeats.
 */
export async function watch(
  signal: AbortSignal,
  onNotification: (n: D["v1Notification"]) => void,
): Promise<void> {
  let after = "";
  while (!signal.aborted) {
    try {
      const q = after ? { after } : { startAtNow: true };
      const resp = await fetch(url("/v1/notifications:watch", { query: q }), {
        headers: { Authorization: `Bearer ${session.key()}` },
        signal,
      });
      if (!resp.ok || !resp.body) await fail(resp);
      const reader = resp.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line) as { result?: D["v1WatchNotificationsResponse"] };
          const r = msg.result;
          if (r?.cursor) after = r.cursor;
          if (r?.notification) onNotification(r.notification);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
