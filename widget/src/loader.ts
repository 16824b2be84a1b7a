// The loader runs on the customer's page:
//
//   <script src="https://CHAT_HOST/widget.js" data-site="SITE_ID" async></script>
//
// A site that verifies its users sets, before the tag, what its backend
// computed: window.parleySettings = { user_id, user_hash } (user_hash =
// hex HMAC-SHA256 of user_id with the site's identity secret) or
// { identity_token } (an HS256 JWT signed with that secret).
//
// It adds one launcher button and, on the first click, one iframe with the
// chat UI served by CHAT_HOST. Nothing else touches the host page: no
// framework, no globals, styles set inline so the page's CSS cannot leak in
// (and ours cannot leak out).

(() => {
  const w = window;
  const d = document;
  // Loaded twice (two tags, a SPA re-inserting it): keep the first launcher.
  if (d.getElementById("parley-launcher")) return;
  const script = (d.currentScript as HTMLScriptElement | null) || d.querySelector<HTMLScriptElement>("script[data-site]");
  if (!script || !script.src) return;
  const site = script.getAttribute("data-site") || "";
  const host = new URL(script.src, location.href).origin;

  // Icons are built with DOM calls, not innerHTML, so a host page that
  // enforces Trusted Types does not break the launcher.
  const svgNS = "http://www.w3.org/2000/svg";
  const icon = (path: string, size: string) => {
    const svg = d.createElementNS(svgNS, "svg");
    const p = d.createElementNS(svgNS, "path");
    for (const [k, v] of [
      ["width", size],
      ["height", size],
      ["viewBox", "0 0 24 24"],
      ["fill", "none"],
      ["stroke", "currentColor"],
      ["stroke-width", "2"],
      ["stroke-linecap", "round"],
      ["stroke-linejoin", "round"],
      ["aria-hidden", "true"],
    ])
      svg.setAttribute(k, v);
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  };
  const chatIcon = icon("M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z", "26");
  const closeIcon = icon("M18 6 6 18M6 6l12 12", "24");

  // cssText rather than a style attribute: a host page's CSP may forbid
  // inline style attributes but never styles set through the CSSOM.
  const css = (el: HTMLElement, styles: string) => {
    el.style.cssText = styles;
  };
  const base = "position:fixed;right:20px;z-index:2147483647;margin:0;";
  let accent = "#2563eb";
  let onAccent = "#fff";
  let side: "right" | "left" = "right";

  const button = d.createElement("button");
  button.id = "parley-launcher";
  button.type = "button";
  button.setAttribute("aria-label", "Chat with us");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "parley-frame");
  button.title = "Chat with us";
  button.appendChild(chatIcon);
  css(
    button,
    base +
      "bottom:20px;width:56px;height:56px;padding:0;border:0;border-radius:50%;background:#2563eb;color:#fff;" +
      "cursor:pointer;display:flex;align-items:center;justify-content:center;" +
      "box-shadow:0 6px 20px rgba(15,23,42,.25);transition:transform .15s ease;",
  );

  // Unread replies while the chat is hidden, as the frame reports them.
  const badge = d.createElement("span");
  badge.setAttribute("aria-hidden", "true");
  css(
    badge,
    "position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;" +
      "border-radius:10px;background:#dc2626;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center;display:none",
  );
  const showUnread = (n: number) => {
    badge.textContent = String(n);
    badge.style.display = n > 0 ? "block" : "none";
    button.title = n > 0 ? `Chat with us (${n} new)` : open ? "Close chat" : "Chat with us";
  };
  button.appendChild(badge);

  // A narrow screen (a phone): the open chat is full-screen.
  const phone = w.innerWidth < 500;
  let frame: HTMLIFrameElement | null = null;
  let loaded = false;
  let open = false;

  const setOpen = (next: boolean) => {
    open = next;
    if (!frame && open) {
      frame = d.createElement("iframe");
      frame.id = "parley-frame";
      frame.title = "Chat";
      frame.allow = "microphone; autoplay; display-capture";
      const q = new URLSearchParams({ site, page: location.href.slice(0, 1000), title: d.title.slice(0, 200) });
      // Identity verification from the host page, in the fragment: it never
      // reaches a server or a Referer (see frame.tsx).
      const id = (w as { parleySettings?: Record<string, string> }).parleySettings || {};
      const f = new URLSearchParams();
      for (const k of ["user_id", "user_hash", "identity_token"]) if (id[k]) f.set(k, String(id[k]));
      frame.src = host + "/widget/frame?" + q.toString() + "#" + f.toString();
      frame.addEventListener("load", () => {
        loaded = true;
        if (!open) frame?.contentWindow?.postMessage("parley:hidden", host);
      });
      // On a phone the chat takes the whole screen (its own minimize
      // button closes it); elsewhere a card above the launcher.
      css(
        frame,
        base +
          (phone
            ? "inset:0;width:100%;height:100%;"
            : "bottom:88px;width:370px;height:560px;max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);border-radius:14px;") +
          "border:0;background:#fff;box-shadow:0 12px 40px rgba(15,23,42,.28);color-scheme:normal;",
      );
      if (side === "left" && !phone) {
        frame.style.left = "20px";
        frame.style.right = "auto";
      }
      d.body.appendChild(frame);
    }
    if (frame) frame.style.display = open ? "block" : "none";
    button.style.display = open && phone ? "none" : "flex";
    button.replaceChildren(open ? closeIcon : chatIcon, badge);
    button.setAttribute("aria-expanded", String(open));
    if (open) showUnread(0);
    // The frame counts replies that arrive while it is hidden. Before its
    // page loaded it is about:blank of another origin, and starts shown.
    if (loaded) frame?.contentWindow?.postMessage(open ? "parley:shown" : "parley:hidden", host);
    // The label stays "Chat with us"; aria-expanded tells open from closed.
    button.title = open ? "Close chat" : "Chat with us";
  };

  button.addEventListener("click", () => setOpen(!open));
  // The frame's own close button asks us to hide it; the frame also tells
  // how many replies came while it was hidden.
  w.addEventListener("message", (ev: MessageEvent) => {
    if (ev.origin !== host || !frame || ev.source !== frame.contentWindow || typeof ev.data !== "string") return;
    if (ev.data.startsWith("parley:look:")) {
      try {
        applyLook(JSON.parse(ev.data.slice(12)));
      } catch {
        // Not a look: ignore.
      }
    } else if (ev.data === "parley:close") {
      setOpen(false);
      button.focus();
    } else if (ev.data.startsWith("parley:unread:") && !open) {
      showUnread(parseInt(ev.data.slice(14), 10) || 0);
    }
  });

  // The site's look (accent colour, launcher corner), as its admin set it:
  // read once here, then from the frame whenever it changes (look.ts).
  // Values are checked: only a #rrggbb colour and a known corner are used.
  function applyLook(look: { accent_color?: unknown; launcher_position?: unknown }) {
    const a = typeof look.accent_color === "string" && /^#[0-9a-f]{6}$/i.test(look.accent_color) ? look.accent_color : "#2563eb";
    const rgb = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
    // Dark text on a light accent (perceived brightness, YIQ).
    onAccent = (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000 > 160 ? "#0f172a" : "#fff";
    accent = a;
    side = look.launcher_position === "left" ? "left" : "right";
    button.style.background = accent;
    button.style.color = onAccent;
    for (const el of frame && !phone ? [button, frame] : [button]) {
      el.style.left = side === "left" ? "20px" : "auto";
      el.style.right = side === "right" ? "20px" : "auto";
    }
    button.setAttribute("data-accent", accent);
    button.setAttribute("data-side", side);
  }
  fetch(host + "/api/widget/look?site=" + encodeURIComponent(site))
    .then((r) => (r.ok ? r.json() : null))
    .then((x) => x && x.look && applyLook(x.look))
    .catch(() => undefined); // the default look stays

  const mount = () => d.body.appendChild(button);
  if (d.body) mount();
  else d.addEventListener("DOMContentLoaded", mount);
})();
