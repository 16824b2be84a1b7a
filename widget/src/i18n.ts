// The widget's words in the visitor's language. Strings are written in
// English in the code, t("Type your message…"), and looked up in the
// chosen language's table, widget/src/locales/<lang>.json (built keyed by
// msgKey of the English text and the table's salt, msgkey.mjs): English is
// built in, the others are fetched once at start (/widget/locale-<lang>.json)
// so the frame carries one language, not six. A string missing from a
// table shows in English. {0}, {1} stand for values; numbers among them
// are written the visitor's way (Intl).
//
// Which language: the site's setting (Sites screen), else the host page's
// boot option (the frame's ?locale=), else the browser's.

/** LANGUAGES the widget speaks; the first is built in. */
export const LANGUAGES = ["en", "es", "fr", "de", "pt", "ar"];

import { msgKey } from "./msgkey.mjs";

let table: Record<string, string> = {};
/** lang is the language in use (a BCP 47 tag, e.g. "fr" or "pt-BR" when
 * the browser said so: dates then follow the region). */
export let lang = "en";

/** t translates s and fills in its {n} placeholders. */
export function t(s: string, ...args: (string | number)[]): string {
  return (table[msgKey(s, +table["#"])] || s).replace(/\{(\d)\}/g, (_, i: string) => {
    const a = args[+i];
    return typeof a === "number" ? a.toLocaleString(lang) : a ?? "";
  });
}

/** choose picks the language: the site's, then the boot option's, then
 * the browser's first one the widget speaks; English otherwise. A choice
 * keeps its region ("pt-BR") for dates and numbers. */
export function choose(site: string | undefined, boot: string | null | undefined, browser: readonly string[]): string {
  for (const tag of [site, boot, ...browser]) {
    const base = (tag || "").toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.includes(base)) return tag!.replace("_", "-");
  }
  return "en";
}

/** setLanguage loads the language's table and sets the page's lang and
 * direction (Arabic reads right to left). A table that cannot be fetched
 * leaves English. */
export async function setLanguage(tag: string): Promise<void> {
  const base = tag.split("-")[0];
  if (base !== "en") {
    try {
      const r = await fetch(`/widget/locale-${base}.json`);
      if (r.ok) table = await r.json();
    } catch {
      // English stays.
    }
  }
  lang = base === "en" || Object.keys(table).length ? tag : "en";
  const root = document.documentElement;
  root.lang = lang;
  root.dir = lang.startsWith("ar") ? "rtl" : "ltr";
}
