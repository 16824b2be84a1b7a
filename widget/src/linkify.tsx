// Safe clickable links in chat messages: only http(s) and mailto
// addresses become links, opened in a new tab without giving the page a
// handle on ours (rel=noopener noreferrer). Text stays text: Preact puts
// it in text nodes, so no message can inject HTML.

import type { ComponentChildren } from "preact";

// An address runs to the next space; punctuation that ends a sentence
// after it is not part of it.
const URLISH = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)\]}'»”]+$/;

/** safeHref returns the address if it is an http(s) or mailto URL, else "". */
export function safeHref(s: string): string {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:" || u.protocol === "mailto:" ? u.href : "";
  } catch {
    return "";
  }
}

/** Linked renders text with its web and mail addresses as links. */
export function Linked({ text }: { text: string }) {
  const out: ComponentChildren[] = [];
  let at = 0;
  for (const m of text.matchAll(URLISH)) {
    const raw = m[0].replace(TRAILING, "");
    const href = safeHref(raw);
    if (!href) continue;
    out.push(text.slice(at, m.index), (
      <a href={href} target="_blank" rel="noopener noreferrer">
        {raw}
      </a>
    ));
    at = m.index! + raw.length;
  }
  out.push(text.slice(at));
  return <>{out}</>;
}
