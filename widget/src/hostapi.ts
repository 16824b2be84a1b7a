// The frame's side of the host-page API (host.ts): it runs what the page
// asks (attributes, events, a prefilled message, shutdown), tells the page
// what happens in the chat (message, conversation_started,
// conversation_ended), reports the pages the visitor browses (the page
// trail) and decides proactive triggers with the server. Everything here
// goes to the server with the visitor's token, from this frame's origin.

import { useEffect, useState } from "preact/hooks";
import type { LiveClient } from "./shared/client";
import { api } from "./shared/http";
import { newClientID } from "./shared/uuid";

interface Trigger {
  id: string;
  kind: string;
  seconds?: number;
  scroll_percent?: number;
  url_contains?: string;
  message: string;
  from?: string;
}
interface Proactive {
  page_trail: boolean;
  respect_dnt: boolean;
  triggers: Trigger[];
}
interface View {
  id: string;
  url: string;
  title: string;
  referrer: string;
  started_at: string;
  seconds: number;
  ended: boolean;
}

/** A proactive message shown in the chat (ProactiveNote). */
export interface Shown {
  message: string;
  from: string;
}

const toHost = (e: string, d?: unknown) => {
  if (window.parent !== window) window.parent.postMessage("parley:api:" + JSON.stringify({ e, d }), "*");
};

// The prefilled message and the proactive message, for the components.
let prefill = "";
let shown: Shown | null = null;
const watchers = new Set<() => void>();
const changed = () => watchers.forEach((fn) => fn());

/** useHostState re-renders on a prefill or a proactive message. */
function useHostState(): void {
  const [, set] = useState(0);
  useEffect(() => {
    const fn = () => set((n) => n + 1);
    watchers.add(fn);
    return () => void watchers.delete(fn);
  }, []);
}

/** takePrefill hands the composer the message the page prefilled, once. */
export function usePrefill(apply: (text: string) => void): void {
  useHostState();
  useEffect(() => {
    if (prefill) {
      apply(prefill);
      prefill = "";
    }
  });
}

/** useProactive is the proactive message shown on this page, if any. */
export function useProactive(): Shown | null {
  useHostState();
  return shown;
}

/**
 * startHostAPI listens to the host page for the life of the frame. token
 * gives the visitor's current token ("" until the first session), keys the
 * storage keys that make up the visitor (forgotten on shutdown).
 */
export function startHostAPI(site: string, client: LiveClient, token: () => string, keys: string[]): () => void {
  const loadedAt = Date.now();
  let config: Proactive | null = null;
  let view: View | null = null;
  let visibleSince = document.visibilityState === "visible" ? Date.now() : 0;
  let visibleMs = 0;
  let dirty = new Map<string, View>();
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  let timeTimers: ReturnType<typeof setTimeout>[] = [];
  // Work that needs the token waits for the first session.
  let waiting: (() => void)[] = [];
  const withToken = (fn: () => void) => (token() ? fn() : waiting.push(fn));

  const firedKey = `parley:${site}:fired`;
  const fired = new Set<string>(load(firedKey));

  const seconds = () => Math.round((visibleMs + (visibleSince ? Date.now() - visibleSince : 0)) / 1000);
  const tracking = () => !!config?.page_trail && !(config.respect_dnt && navigator.doNotTrack === "1");

  /** flush sends the views changed since the last report; on the way out
   * (keepalive) the request outlives the page. */
  const flush = (leaving = false) => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    if (!dirty.size || !token()) return;
    const views = [...dirty.values()].slice(-20);
    dirty = new Map();
    fetch("/api/widget/pages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: token(), views }),
      keepalive: leaving,
    }).catch(() => undefined); // a lost report loses a page view, nothing else
  };
  const touch = (v: View, soon: number) => {
    if (!tracking()) return;
    v.seconds = seconds();
    dirty.set(v.id, { ...v });
    if (!flushTimer) flushTimer = setTimeout(() => withToken(() => flush()), soon);
  };

  const contains = (t: Trigger) => !t.url_contains || (view?.url ?? "").includes(t.url_contains);
  const fire = (t: Trigger) => {
    if (fired.has(t.id) || !contains(t)) return;
    fired.add(t.id); // asked once per page, whatever the answer
    withToken(() =>
      api<{ trigger: { message: string; from: string } }>("POST", "/api/widget/triggers/fire", { token: token(), trigger: t.id }).then(
        (x) => {
          keep(firedKey, [...fired]);
          shown = { message: x.trigger.message, from: x.trigger.from };
          client.trigger = t.id;
          changed();
          toHost("trigger", { id: t.id });
        },
        (e) => {
          // Spent (shown before, or the site's limit reached): never ask
          // again. Other refusals (not a returning visitor yet) may change.
          if (e?.code === "trigger_spent") keep(firedKey, [...fired]);
        },
      ),
    );
  };
  const triggers = (kind: string) => (config?.triggers ?? []).filter((t) => t.kind === kind);

  /** page starts a new view when the page's address changed. */
  const page = (url: string, title: string, referrer: string) => {
    if (view && view.url === url) {
      if (view.title !== title) touch(Object.assign(view, { title }), 2000);
      return;
    }
    if (view) {
      view.ended = true;
      touch(view, 0);
    }
    visibleMs = 0;
    visibleSince = document.visibilityState === "visible" ? Date.now() : 0;
    view = { id: newClientID(), url, title, referrer, started_at: new Date().toISOString(), seconds: 0, ended: false };
    touch(view, 2000);
    // Triggers of this page: its address, and the time on it.
    triggers("url").forEach(fire);
    timeTimers.forEach(clearTimeout);
    timeTimers = triggers("time").map((t) => setTimeout(() => fire(t), (t.seconds ?? 0) * 1000));
  };

  // How far the visitor scrolled and whether they moved to leave, kept
  // because the page can report both before the site's triggers have
  // loaded here (a quick scroll right after the page opens).
  let scrolled = 0;
  let exited = false;
  const onScrollOrExit = () => {
    triggers("scroll")
      .filter((t) => scrolled >= (t.scroll_percent ?? 100))
      .forEach(fire);
    if (exited) triggers("exit").forEach(fire);
  };

  const onMessage = (ev: MessageEvent) => {
    if (ev.source !== window.parent || typeof ev.data !== "string" || !ev.data.startsWith("parley:api:")) return;
    let m: { cmd?: string; [k: string]: unknown };
    try {
      m = JSON.parse(ev.data.slice(11));
    } catch {
      return;
    }
    switch (m.cmd) {
      case "page":
        page(String(m.url), String(m.title ?? ""), String(m.referrer ?? ""));
        break;
      case "scroll":
        scrolled = Math.max(scrolled, Number(m.pct) || 0);
        onScrollOrExit();
        break;
      case "exit":
        exited = true;
        onScrollOrExit();
        break;
      case "attributes":
        withToken(() => api("POST", "/api/widget/attributes", { token: token(), attributes: m.attributes }).catch(warn("setAttributes")));
        break;
      case "track":
        withToken(() => api("POST", "/api/widget/events", { token: token(), name: m.name, props: m.props }).catch(warn("track")));
        break;
      case "prefill":
        prefill = String(m.text ?? "").slice(0, 4000);
        changed();
        break;
      case "shutdown":
        // Forget the visitor: the next session is a new anonymous one.
        client.stop();
        for (const k of [...keys, firedKey]) {
          try {
            localStorage.removeItem(k);
          } catch {
            // Storage blocked: nothing was kept.
          }
        }
        toHost("shutdown_done");
        break;
    }
  };
  window.addEventListener("message", onMessage);

  // Time on page counts while the page is visible; hiding it (another tab,
  // closing it) sends what changed, in a request that outlives the page.
  const visibility = () => {
    if (document.visibilityState === "hidden") {
      if (visibleSince) visibleMs += Date.now() - visibleSince;
      visibleSince = 0;
      if (view) touch(view, 0);
      flush(true);
    } else if (!visibleSince) visibleSince = Date.now();
  };
  document.addEventListener("visibilitychange", visibility);
  const pagehide = () => {
    if (view) {
      view.ended = true;
      touch(view, 0);
    }
    flush(true);
  };
  window.addEventListener("pagehide", pagehide);

  // Events of the chat, for the page's listeners: new messages from the
  // team, a conversation starting or ending while the page is open.
  const statuses = new Map<string, string>();
  const stopListen = client.listen((f) => {
    if (f.type === "message" && f.author.kind !== "visitor" && f.author.kind !== "system" && Date.parse(f.sent_at) >= loadedAt - 2000) {
      toHost("message", { conversation: f.conversation, body: f.body, author: { kind: f.author.kind, name: f.author.name }, sent_at: f.sent_at });
    }
  });
  const stopSub = client.subscribe(() => {
    if (token()) {
      const w = waiting;
      waiting = [];
      w.forEach((fn) => fn());
    }
    for (const [id, c] of client.conversations) {
      const was = statuses.get(id);
      const now = c.info.status;
      statuses.set(id, now);
      if (was === undefined && now !== "closed" && Date.parse(c.info.created_at) >= loadedAt - 2000) toHost("conversation_started", { conversation: id });
      if (was !== undefined && was !== "closed" && now === "closed") toHost("conversation_ended", { conversation: id });
    }
  });

  api<Proactive>("GET", "/api/widget/proactive?site=" + encodeURIComponent(site)).then(
    (c) => {
      config = c;
      if (view) {
        const v = view;
        view = null; // starts again, now that the settings are known
        page(v.url, v.title, v.referrer);
      }
      triggers("returning").forEach(fire);
      onScrollOrExit();
    },
    () => undefined, // no trail, no triggers
  );

  toHost("frame_ready");
  return () => {
    window.removeEventListener("message", onMessage);
    document.removeEventListener("visibilitychange", visibility);
    window.removeEventListener("pagehide", pagehide);
    timeTimers.forEach(clearTimeout);
    stopListen();
    stopSub();
  };
}

const warn = (what: string) => (e: unknown) => console.warn(`Parley ${what}:`, e instanceof Error ? e.message : e);

function load(key: string): string[] {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "[]");
  } catch {
    return [];
  }
}

function keep(key: string, ids: string[]): void {
  try {
    localStorage.setItem(key, JSON.stringify(ids));
  } catch {
    // Storage blocked: the server still refuses a second showing.
  }
}
