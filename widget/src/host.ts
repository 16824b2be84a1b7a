// The host-page API (/widget/host.js): loaded by the loader (loader.ts)
// when the page is idle or at the first click, it replaces the queue stub
// with the real Parley(...) function, runs the calls queued before it, in
// order, and owns the chat frame. It does little on the page itself: the
// chat, the visitor's session, the page trail's reports and the trigger
// decisions live in the frame (hostapi.ts), on the chat server's origin;
// this side only says what only the page knows (its address and title,
// scroll depth, the pointer leaving for the tab bar) and shows or hides.
//
// Frame and page talk with postMessage strings, checked by origin and
// source: "parley:api:" + JSON {cmd, ...} to the frame, {e, d} back.

export {}; // a module: its names stay its own

type Fn = (data?: unknown) => void;
interface LoaderParts {
  button: HTMLButtonElement;
  badge: HTMLElement;
  applyLook: (look: object) => void;
  site: () => string;
  host: string;
  css: (el: HTMLElement, styles: string) => void;
  set: (el: HTMLElement, k: string, v: string) => void;
}
interface Stub {
  (...a: unknown[]): void;
  q?: ArrayLike<unknown>[];
  l?: LoaderParts;
}
interface Proactive {
  page_trail: boolean;
  respect_dnt: boolean;
  triggers: { kind: string; url_contains?: string; scroll_percent?: number }[];
}

const EVENTS = ["ready", "open", "close", "message", "unread", "conversation_started", "conversation_ended"];
/** Events only the frame can see: asking for them loads it. */
const FRAME_EVENTS = ["message", "conversation_started", "conversation_ended"];

(() => {
  const w = window as unknown as Window & { Parley?: Stub; parleySettings?: Record<string, unknown> };
  const d = document;
  const stub = w.Parley;
  const parts = stub?.l;
  if (!stub || !parts) return; // not loaded by the loader, or loaded twice
  const { button, badge, applyLook, host, css, set } = parts;
  const queued = stub.q || [];

  let frame: HTMLIFrameElement | null = null;
  let frameReady = false;
  let toFrame: object[] = [];
  let open = false;
  let shown = true;
  let unread = 0;
  let identity: Record<string, string> = {};
  let locale = "";
  // A narrow screen (a phone): the open chat is full-screen.
  const phone = innerWidth < 500;
  let config: Proactive | null = null;
  const listeners = new Map<string, Set<Fn>>();
  let ready = false;

  const emit = (event: string, data?: unknown) => {
    for (const fn of listeners.get(event) ?? []) {
      try {
        fn(data);
      } catch (e) {
        // A listener's error is the page's; it must not stop ours.
        setTimeout(() => {
          throw e;
        });
      }
    }
  };

  const post = (msg: object) => {
    if (frame && frameReady) frame.contentWindow?.postMessage("parley:api:" + JSON.stringify(msg), host);
    else {
      toFrame.push(msg);
      ensureFrame();
    }
  };

  // Identity from boot or identify, or (the older way) window.parleySettings.
  const setIdentity = (o: Record<string, unknown> | undefined) => {
    const next: Record<string, string> = {};
    const src = o || {};
    const user = src.user_id ?? src.user;
    if (user !== undefined && user !== null && user !== "") next.user_id = String(user);
    for (const k of ["user_hash", "identity_token"]) if (src[k]) next[k] = String(src[k]);
    const changed = JSON.stringify(next) !== JSON.stringify(identity);
    identity = next;
    return changed;
  };
  setIdentity(w.parleySettings);

  /** ensureFrame creates the chat frame (hidden unless open). */
  function ensureFrame(): HTMLIFrameElement {
    if (frame) return frame;
    const f = d.createElement("iframe");
    frame = f;
    frameReady = false;
    f.id = "parley-frame";
    f.title = "Chat";
    f.allow = "microphone; autoplay; display-capture";
    const q = new URLSearchParams({ site: parts!.site(), page: location.href.slice(0, 1000), title: d.title.slice(0, 200) });
    if (!open) q.set("bg", "1"); // loaded before the visitor opened it
    if (locale) q.set("locale", locale); // boot's language, before the browser's
    // Identity verification, in the fragment: it never reaches a server
    // or a Referer (see frame.tsx).
    f.src = host + "/widget/frame?" + q.toString() + "#" + new URLSearchParams(identity).toString();
    css(
      f,
      "position:fixed;z-index:2147483647;margin:0;" +
        // On a phone the chat takes the whole screen (its own minimize
        // button closes it); elsewhere a card above the launcher.
        (phone
          ? "inset:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0;"
          : "right:20px;left:auto;top:auto;bottom:88px;width:370px;height:560px;" +
            "max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);border-radius:14px;") +
        "border:0;background:#fff;box-shadow:0 12px 40px rgba(15,23,42,.28);color-scheme:normal;",
    );
    set(f, "display", open ? "block" : "none");
    if (button.getAttribute("data-side") === "left" && !phone) {
      set(f, "left", "20px");
      set(f, "right", "auto");
    }
    d.body.appendChild(f);
    return f;
  }

  /** dropFrame removes the frame (shutdown, or a new identity). */
  function dropFrame() {
    alertTitle("");
    frame?.remove();
    frame = null;
    frameReady = false;
  }

  // The launcher's label is its aria-label, in the visitor's language
  // from the loader (the look's label) and then from the frame; the title
  // adds the unread count.
  const chatLabel = () => button.getAttribute("aria-label");
  const label = () => (button.title = chatLabel()!);
  const showUnread = (n: number) => {
    badge.textContent = String(n);
    set(badge, "display", n > 0 ? "block" : "none");
    button.title = n > 0 ? `${chatLabel()} (${n})` : label();
  };

  // A new reply while the chat or the tab is hidden: the page's title
  // flashes the frame's words ("(1) New message") until the visitor looks
  // (the frame then sends none). A title the page sets meanwhile is kept.
  let flash: ReturnType<typeof setInterval> | undefined;
  let pageTitle = "";
  const alertTitle = (text: string) => {
    if (flash) d.title = pageTitle;
    clearInterval(flash);
    flash = undefined;
    if (!text) return;
    pageTitle = d.title;
    const tick = () => (d.title = d.title === text ? pageTitle : ((pageTitle = d.title), text));
    tick();
    flash = setInterval(tick, 1000);
  };

  const chatIcon = button.firstElementChild as SVGElement;
  const closeIcon = chatIcon.cloneNode(true) as SVGElement;
  closeIcon.firstElementChild!.setAttribute("d", "M18 6 6 18M6 6l12 12");

  function setOpen(next: boolean) {
    if (next && !shown) return; // hidden by the page: it shows first
    const was = open;
    open = next;
    if (open) ensureFrame();
    if (frame) set(frame, "display", open ? "block" : "none");
    button.replaceChildren(open ? closeIcon : chatIcon, badge);
    set(button, "display", !shown || (open && phone) ? "none" : "flex");
    button.setAttribute("aria-expanded", String(open));
    if (open) showUnread(0);
    // The frame counts replies that arrive while it is hidden.
    if (frame && frameReady) frame.contentWindow?.postMessage(open ? "parley:shown" : "parley:hidden", host);
    label();
    if (was !== open) emit(open ? "open" : "close");
  }

  function setShown(next: boolean) {
    shown = next;
    if (!shown) setOpen(false);
    set(button, "display", shown ? "flex" : "none");
  }

  w.addEventListener("message", (ev: MessageEvent) => {
    if (ev.origin !== host || !frame || ev.source !== frame.contentWindow || typeof ev.data !== "string") return;
    const m = ev.data;
    if (m.startsWith("parley:look:")) {
      try {
        applyLook(JSON.parse(m.slice(12)));
      } catch {
        // Not a look: ignore.
      }
    } else if (m === "parley:close") {
      setOpen(false);
      button.focus();
    } else if (m.startsWith("parley:title:")) {
      alertTitle(m.slice(13));
    } else if (m.startsWith("parley:label:")) {
      button.setAttribute("aria-label", m.slice(13));
      label();
    } else if (m.startsWith("parley:unread:")) {
      const n = parseInt(m.slice(14), 10) || 0;
      if (!open) showUnread(n);
      if (n !== unread) emit("unread", (unread = n));
    } else if (m.startsWith("parley:api:")) {
      let msg: { e?: string; d?: unknown };
      try {
        msg = JSON.parse(m.slice(11));
      } catch {
        return;
      }
      if (msg.e === "frame_ready") {
        frameReady = true;
        frame.contentWindow?.postMessage(open ? "parley:shown" : "parley:hidden", host);
        const pending = toFrame;
        toFrame = [];
        sendPage();
        for (const p of pending) post(p);
      } else if (msg.e === "trigger") {
        // A proactive message: the chat opens to show it.
        setOpen(true);
      } else if (msg.e === "shutdown_done") {
        dropFrame();
      } else if (msg.e && FRAME_EVENTS.includes(msg.e)) {
        emit(msg.e, msg.d);
      }
    }
  });

  // What the frame cannot see of the page: its address and title (also
  // after a single-page app changes them), scroll depth, exit intent.
  let lastPage = "";
  function sendPage() {
    const page = location.href;
    if (!frame || !frameReady || page === lastPage) return;
    lastPage = page;
    post({ cmd: "page", url: page, title: d.title, referrer: d.referrer });
  }
  function watchPage() {
    const h = history;
    for (const k of ["pushState", "replaceState"] as const) {
      const orig = h[k];
      h[k] = function (this: History, ...a: Parameters<History["pushState"]>) {
        orig.apply(this, a);
        // The app sets the new title just after: report it then.
        setTimeout(sendPage, 50);
      };
    }
    w.addEventListener("popstate", () => setTimeout(sendPage, 50));
  }
  function watchScroll(first: number) {
    let sent = 0;
    let pending = false;
    const measure = () => {
      pending = false;
      const el = d.documentElement;
      const pct = Math.min(100, Math.round(((scrollY + innerHeight) / Math.max(el.scrollHeight, 1)) * 100));
      // Only when it grew past what the triggers look for, in 5% steps.
      if (pct >= first && pct >= sent + 5) post({ cmd: "scroll", pct: (sent = pct) });
    };
    w.addEventListener("scroll", () => !pending && (pending = true) && requestAnimationFrame(measure), { passive: true });
  }
  function watchExit() {
    const fire = (e: MouseEvent) => {
      if (e.clientY > 0 || e.relatedTarget) return;
      d.removeEventListener("mouseout", fire);
      post({ cmd: "exit" });
    };
    d.addEventListener("mouseout", fire);
  }

  /** booted loads the site's page trail and trigger settings; a site that
   * uses either gets its frame now (hidden), since the frame is the one
   * that reports and decides. */
  function booted() {
    fetch(host + "/api/widget/proactive?site=" + encodeURIComponent(parts!.site()))
      .then((r) => (r.ok ? r.json() : null))
      .then((c: Proactive | null) => {
        if (!c || config) return;
        config = c;
        const kinds = c.triggers.map((t) => t.kind);
        if (!c.page_trail && !kinds.length) return;
        watchPage();
        const depths = c.triggers.filter((t) => t.kind === "scroll").map((t) => t.scroll_percent || 100);
        if (depths.length) watchScroll(Math.min(...depths));
        if (kinds.includes("exit")) watchExit();
        ensureFrame();
      })
      .catch(() => undefined); // no trail, no triggers: chat still works
  }

  const typed = (v: unknown) => {
    if (v === null || v === undefined) return null;
    if (v instanceof Date) return { type: "date", value: v.toISOString() };
    const t = typeof v;
    return { type: t === "number" ? "number" : t === "boolean" ? "boolean" : "string", value: t === "number" || t === "boolean" ? v : String(v) };
  };

  const methods: Record<string, (...a: never[]) => unknown> = {
    boot(o?: Record<string, unknown>) {
      if (typeof o?.locale === "string") locale = o.locale.slice(0, 35);
      if (setIdentity(o) && frame) dropFrame(); // another user: a new session
      booted();
    },
    identify(o?: Record<string, unknown>) {
      if (!setIdentity({ ...identity, ...o })) return;
      const wasOpen = open;
      dropFrame();
      if (wasOpen || config?.page_trail || config?.triggers.length) ensureFrame();
    },
    setAttributes(attrs?: Record<string, unknown>) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(attrs || {})) out[k] = typed(v);
      post({ cmd: "attributes", attributes: out });
    },
    track(name: string, props?: object) {
      post({ cmd: "track", name: String(name), props: props || {} });
    },
    prefill(text: string) {
      post({ cmd: "prefill", text: String(text ?? "") });
    },
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!open),
    show: () => setShown(true),
    hide: () => setShown(false),
    on(event: string, fn: Fn) {
      if (!EVENTS.includes(event) || typeof fn !== "function") return;
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(fn);
      if (event === "ready" && ready) fn();
      if (FRAME_EVENTS.includes(event)) ensureFrame();
    },
    off(event: string, fn: Fn) {
      listeners.get(event)?.delete(fn);
    },
    shutdown() {
      setOpen(false);
      identity = {};
      unread = 0;
      showUnread(0);
      // The frame forgets the visitor (its storage), then goes.
      if (frame && frameReady) post({ cmd: "shutdown" });
      else dropFrame();
      toFrame = [];
    },
  };

  const Parley = (method: unknown, ...args: unknown[]) => {
    const m = methods[String(method)];
    if (!m) {
      console.warn("Parley: no such method", method);
      return;
    }
    return (m as (...a: unknown[]) => unknown)(...args);
  };
  w.Parley = Object.assign(Parley, { l: parts });
  let booting = false;
  for (const c of queued) {
    if (c[0] === "boot") booting = true;
    const [method, ...args] = Array.from(c);
    Parley(method, ...args);
  }
  if (!booting) booted(); // a bare script tag boots by itself
  ready = true;
  emit("ready");
})();
