// The loader runs on the customer's page:
//
//   <script>window.Parley=window.Parley||function(){(Parley.q=Parley.q||[]).push(arguments)};
//     Parley("boot",{site:"SITE_ID"});</script>
//   <script src="https://CHAT_HOST/widget.js" data-site="SITE_ID" async></script>
//
// The first tag is the queue stub: the host page may call Parley(...) at
// once, before this script arrives; calls wait in Parley.q and run once, in
// order, when the API does (README, "JavaScript API"). The bare script tag
// with data-site still works on its own.
//
// A site that verifies its users passes, in boot (or, as before, in
// window.parleySettings), what its backend computed: user_id + user_hash
// (hex HMAC-SHA256 of user_id with the site's identity secret) or
// identity_token (an HS256 JWT signed with that secret).
//
// This script only adds the launcher button, styled with the site's look,
// and then, when the browser is idle (or at the first click), fetches the
// API (host.ts, /widget/host.js), which opens the chat frame and does all
// the rest. Nothing else touches the host page: no framework, one global
// (Parley), styles set inline so the page's CSS cannot leak in (and ours
// cannot leak out).

export {}; // a module: its names stay its own

type Call = ArrayLike<unknown>;
interface Stub {
  (...a: unknown[]): void;
  q?: Call[];
  l?: unknown;
}

(() => {
  const w = window as unknown as { Parley?: Stub; parleySettings?: unknown; trustedTypes?: { createPolicy(n: string, p: object): { createScriptURL(u: string): string } } };
  const d = document;
  // Loaded twice (two tags, a SPA re-inserting it): keep the first.
  if (w.Parley?.l || d.getElementById("parley-launcher")) return;
  const script = (d.currentScript as HTMLScriptElement | null) || d.querySelector<HTMLScriptElement>("script[src*='/widget.js']");
  if (!script || !script.src) return;
  const host = new URL(script.src, location.href).origin;
  const q: Call[] = w.Parley?.q || [];
  let site = script.getAttribute("data-site") || "";
  // boot's language, which the launcher's label follows (after the site's).
  let locale = "";
  const boot = (o?: { site?: string; locale?: string }) => {
    site = o?.site || site;
    locale = o?.locale || locale;
  };
  for (const c of q) if (c[0] === "boot") boot(c[1] as never);

  // Until the API arrives, calls wait in the queue; a boot naming the site
  // starts the launcher if the page had not said which site.
  const stub: Stub = function () {
    // eslint-disable-next-line prefer-rest-params
    const c = arguments;
    q.push(c);
    if (!started && c[0] === "boot") {
      boot(c[1] as never);
      start(site);
    }
  };
  stub.q = q;
  w.Parley = stub;

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
    // A page that makes everything position: fixed must not move it.
    svg.style.cssText = "position:static!important";
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  };

  // cssText rather than a style attribute: a host page's CSP may forbid
  // inline style attributes but never styles set through the CSSOM. Every
  // declaration is !important, so no rule of the page (even an !important
  // one, such as "* { position: fixed !important }") overrides ours.
  const css = (el: HTMLElement, styles: string) => {
    el.style.cssText = styles.replace(/;/g, "!important;");
  };
  // One declaration, !important likewise (a plain el.style.x = … would
  // replace the !important one and lose to the page's).
  const set = (el: HTMLElement, k: string, v: string) => el.style.setProperty(k, v, "important");

  const button = d.createElement("button");
  button.id = "parley-launcher";
  button.type = "button";
  // The label, in English until the look (below) gives the visitor's
  // language; host.ts keeps the title equal to it.
  const label = (s: string) => {
    button.setAttribute("aria-label", s);
    button.title = s;
  };
  label("Chat with us");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "parley-frame");
  button.appendChild(icon("M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z", "26"));
  css(
    button,
    "position:fixed;right:20px;left:auto;top:auto;z-index:2147483647;margin:0;bottom:20px;width:56px;height:56px;padding:0;border:0;border-radius:50%;" +
      "background:#2563eb;color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;" +
      "box-shadow:0 6px 20px rgba(15,23,42,.25);transition:transform .15s ease;",
  );

  // Unread replies while the chat is hidden (host.ts shows the count).
  const badge = d.createElement("span");
  badge.setAttribute("aria-hidden", "true");
  css(
    badge,
    "position:absolute;top:-3px;right:-3px;left:auto;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;" +
      "border-radius:10px;background:#dc2626;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center;display:none;",
  );
  button.appendChild(badge);

  // The site's look (accent colour, launcher corner), as its admin set it:
  // read once here, then from the frame whenever it changes (look.ts).
  // Values are checked: only a #rrggbb colour and a known corner are used.
  function applyLook(look: { accent_color?: unknown; launcher_position?: unknown }) {
    const a = typeof look.accent_color === "string" && /^#[0-9a-f]{6}$/i.test(look.accent_color) ? look.accent_color : "#2563eb";
    const rgb = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
    const left = look.launcher_position === "left";
    set(button, "background", a);
    // Dark text on a light accent (perceived brightness, YIQ).
    set(button, "color", (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000 > 160 ? "#0f172a" : "#fff");
    // On a phone the open chat is full-screen: it keeps no corner.
    for (const el of [button, innerWidth < 500 ? null : d.getElementById("parley-frame")]) {
      if (!el) continue;
      set(el, "left", left ? "20px" : "auto");
      set(el, "right", left ? "auto" : "20px");
    }
    button.setAttribute("data-accent", a);
    button.setAttribute("data-side", left ? "left" : "right");
  }

  // The API: host.ts takes over the queue. A Trusted Types page gets our
  // script URL through a policy of ours, if its CSP allows one.
  let requested = false;
  const loadAPI = () => {
    if (requested) return;
    requested = true;
    const s = d.createElement("script");
    let src: string = host + "/widget/host.js";
    try {
      src = w.trustedTypes?.createPolicy("parley", { createScriptURL: (u: string) => u }).createScriptURL(src) ?? src;
    } catch {
      // No policy allowed: the plain URL (refused only under enforced Trusted Types).
    }
    s.src = src;
    s.async = true;
    d.head.appendChild(s);
  };
  // What host.ts needs of this script.
  stub.l = { button, badge, applyLook, site: () => site, host, css, set };

  let started = false;
  function start(id: string) {
    if (started || !id) return;
    started = true;
    site = id;
    button.addEventListener("click", () => {
      w.Parley!("toggle");
      loadAPI();
    });
    // The label comes in the language the frame will speak: the site's,
    // then boot's (locale), then the browser's (Accept-Language).
    fetch(host + "/api/widget/look?site=" + encodeURIComponent(site) + "&locale=" + encodeURIComponent(locale))
      .then((r) => (r.ok ? r.json() : null))
      .then((x) => {
        if (x?.look) applyLook(x.look);
        if (x?.label) label(x.label);
      })
      .catch(() => undefined); // the default look and label stay
    const mount = () => {
      d.body.appendChild(button);
      // Off the critical path: the API loads when the page is idle.
      (window.requestIdleCallback || setTimeout)(loadAPI, { timeout: 3000 } as never);
    };
    if (d.body) mount();
    else d.addEventListener("DOMContentLoaded", mount);
  }
  start(site);
})();
