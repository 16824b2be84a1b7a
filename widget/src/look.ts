// The site's widget look (title, greeting, accent colour, launcher corner,
// avatars), as the site's admin set it: read from GET /api/widget/look on
// load and after every reconnect (a change made meanwhile was not heard),
// and replaced live by the server's `site` frame when the admin changes it.
// The frame styles itself and tells the loader, which styles the launcher.

import { useEffect, useState } from "preact/hooks";
import type { LiveClient } from "./shared/client";
import { api } from "./shared/http";
import type { WidgetLook } from "../../pkg/protocol/protocol";

export type { WidgetLook };

/** onAccent is the text colour readable on the accent: dark on light
 * accents, white on dark ones (relative luminance, WCAG). */
export function onAccent(hex: string): string {
  const c = [1, 3, 5].map((i) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  return lum > 0.4 ? "#0f172a" : "#fff";
}

const HEX = /^#[0-9a-f]{6}$/i;

function apply(look: WidgetLook): void {
  const root = document.documentElement.style;
  if (HEX.test(look.accent_color)) {
    root.setProperty("--pw-accent", look.accent_color);
    root.setProperty("--pw-on-accent", onAccent(look.accent_color));
  } else {
    root.removeProperty("--pw-accent");
    root.removeProperty("--pw-on-accent");
  }
  if (window.parent !== window) window.parent.postMessage("parley:look:" + JSON.stringify(look), "*");
}

/** useLook returns the site's look (null until known; initial is the one
 * read before the first render) and keeps it current. */
export function useLook(site: string, client: LiveClient | null, initial: WidgetLook | null): WidgetLook | null {
  const [look, setLook] = useState<WidgetLook | null>(initial);
  useEffect(() => {
    if (!site || !client) return;
    let live = true;
    // A fetch answered after a newer site frame must not undo it.
    let version = 0;
    const fetchLook = () => {
      const mine = ++version;
      api<{ look: WidgetLook }>("GET", "/api/widget/look?site=" + encodeURIComponent(site)).then(
        (x) => live && mine === version && setLook(x.look),
        () => undefined, // the default look stays
      );
    };
    fetchLook();
    const stop = client.listen((f) => {
      if (f.type === "site") {
        version++;
        setLook(f.look);
      } else if (f.type === "welcome") fetchLook();
    });
    return () => {
      live = false;
      stop();
    };
  }, [site, client]);
  useEffect(() => {
    if (look) apply(look);
  }, [look]);
  return look;
}
