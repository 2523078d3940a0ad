import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { callerOf, session, whenUnauthenticated, type Caller, type Role } from "./api";
import { SignIn } from "./pages/SignIn";
import { Outreach } from "./pages/Outreach";
import { CustomerPage } from "./pages/Customer";
import { Segments } from "./pages/Segments";
import { Incidents } from "./pages/Incidents";
import { PolicyPage } from "./pages/Policy";
import { Live } from "./live";
import "./style.css";

// Routes live in the URL's fragment (#/customers/42), so goodwilld serves
// one index.html and a reload or a shared link opens the same page. The
// key never goes in the URL.
function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const f = () => setRoute(parse());
    addEventListener("hashchange", f);
    return () => removeEventListener("hashchange", f);
  }, []);
  return route;
}

const nav: Array<[string, string, (r: Role) => boolean]> = [
  ["outreach", "Outreach", (r) => r !== "writer"],
  ["segments", "Segments", (r) => r !== "writer"],
  ["incidents", "Incidents", (r) => r !== "reader"],
  ["policy", "Policy", (r) => r !== "writer"],
];

function App() {
  const [caller, setCaller] = useState<Caller | null>(null);
  const role = caller?.role;
  const [checking, setChecking] = useState(session.key() !== "");
  const route = useRoute();

  const signOut = () => {
    session.clear();
    setCaller(null);
  };
  useEffect(() => {
    // A key the API stops accepting signs the tab out where it stands, so
    // signing in again returns to the same page.
    whenUnauthenticated(signOut);
    if (!session.key()) return;
    // A reload keeps the key (sessionStorage); its role is asked again.
    callerOf(session.key())
      .then(setCaller)
      .catch(() => signOut())
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <main class="page"><p aria-live="polite">Checking your key…</p></main>;
  if (!caller || !role) return <SignIn onSignedIn={setCaller} />;

  const [page = role === "writer" ? "incidents" : "outreach", ...rest] = route;
  let body;
  switch (page) {
    case "customers":
      body = <CustomerPage id={rest[0] ?? ""} role={role} />;
      break;
    case "segments":
      body = <Segments role={role} />;
      break;
    case "incidents":
      body = <Incidents role={role} />;
      break;
    case "policy":
      body = <PolicyPage role={role} />;
      break;
    default:
      body = <Outreach role={role} />;
  }
  return (
    <Live enabled={role !== "writer"}>
      <header class="top">
        <a class="brand" href="#/">Goodwill Ledger</a>
        <nav aria-label="Main">
          {nav.filter(([, , allowed]) => allowed(role)).map(([href, label]) => (
            <a href={`#/${href}`} aria-current={page === href ? "page" : undefined}>{label}</a>
          ))}
        </nav>
        <span class="who">
          <span class="role" data-testid="role" title={`key ${caller.keyId}`}>{role} key · {caller.tenant}</span>
          <button type="button" class="link" onClick={() => { location.hash = ""; signOut(); }}>Sign out</button>
        </span>
      </header>
      <main class="page" id="main">{body}</main>
    </Live>
  );
}

render(<App />, document.getElementById("app")!);
