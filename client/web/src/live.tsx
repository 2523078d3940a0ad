// Live updates: one notification stream per tab, shared by the pages
// through a context. A page subscribes with useNotifications and reloads
// what a notification changes.
import { createContext, type ComponentChildren } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { watch, type D } from "./api";

type Listener = (n: D["v1Notification"]) => void;

interface LiveState {
  subscribe(f: Listener): () => void;
  connected: boolean;
}

const LiveContext = createContext<LiveState>({ subscribe: () => () => {}, connected: false });

export function Live(props: { enabled: boolean; children: ComponentChildren }) {
  const listeners = useRef(new Set<Listener>());
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!props.enabled) return;
    const stop = new AbortController();
    setConnected(true);
    watch(stop.signal, (n) => listeners.current.forEach((f) => f(n))).finally(() => setConnected(false));
    return () => stop.abort();
  }, [props.enabled]);
  const state: LiveState = {
    connected,
    subscribe(f) {
      listeners.current.add(f);
      return () => listeners.current.delete(f);
    },
  };
  return <LiveContext.Provider value={state}>{props.children}</LiveContext.Provider>;
}

/**
 * Calls f for each notification that passes filter, batching bursts: f
 * runs at most once every 500 ms, so a flood of events costs a few
 * reloads, not one per event.
 */
export function useNotifications(filter: (n: D["v1Notification"]) => boolean, f: () => void, deps: unknown[]) {
  const live = useContext(LiveContext);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = live.subscribe((n) => {
      if (!filter(n) || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        f();
      }, 500);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [live, ...deps]);
  return live.connected;
}
