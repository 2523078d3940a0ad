import { useState } from "preact/hooks";
import { callerOf, session, type Caller } from "../api";
import { ErrorBox, useAction } from "../ui";

export function SignIn(props: { onSignedIn: (c: Caller) => void }) {
  const [key, setKey] = useState("");
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const caller = await callerOf(key.trim());
      session.set(key.trim());
      props.onSignedIn(caller);
    });
  };
  return (
    <main class="page signin">
      <h1>Goodwill Ledger</h1>
      <p>Sign in with an API key. It stays in this browser tab only, and is forgotten when you close it.</p>
      <form onSubmit={submit}>
        <label for="key">API key</label>
        <input id="key" name="key" type="password" autocomplete="off" required value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy || key.trim() === ""}>{busy ? "Checking…" : "Sign in"}</button>
      </form>
      <ErrorBox error={error} />
      <p class="hint">
        An operator creates keys with <code>goodwilld keys create --role reader</code> (or writer, admin). A reader key
        sees everything; a writer key records events and incidents; an admin key may also change the policy.
      </p>
    </main>
  );
}
