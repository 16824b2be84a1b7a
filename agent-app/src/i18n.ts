// The dashboard in the agent's language: the widget's six (en, es, fr,
// de, pt, ar). Words are looked up by key, t("inbox.title"): English is
// built in (locales/en.ts, which defines the keys), the others are a
// script each (dist/locale-<lang>.js, from locales/<lang>.ts) loaded once
// when chosen, so the page carries one language, not six. Every table is
// typed against English: a key missing from a language, or a t() of a key
// that does not exist, fails `npm run check`.
//
// Which language: the agent's setting (PUT /api/me/locale, kept on the
// server), else the browser's first one the dashboard speaks, else
// English. Before sign-in the last choice made in this browser is used.
// Arabic is written right to left: the document gets dir="rtl" and the CSS
// uses logical properties (margin-inline-start…), so the layout mirrors.

import type { ComponentChild } from "preact";
import { ApiError, api } from "@parley/shared/http";
import { shortTime } from "@parley/shared/format";
import { en } from "./locales/en";

/** LANGUAGES the dashboard speaks, with each one's own name for the picker. */
export const LANGUAGES = [
  ["en", "English"],
  ["es", "Español"],
  ["fr", "Français"],
  ["de", "Deutsch"],
  ["pt", "Português"],
  ["ar", "العربية"],
] as const;

type En = typeof en;
/** Plural is a message with one text per plural category of the language
 * (Intl.PluralRules); "other" is the one every language has. */
export type Plural = { [k in Intl.LDMLPluralRule]?: string } & { other: string };
/** Key is a plain message; PluralKey one that depends on a count (tn). */
export type Key = { [K in keyof En]: En[K] extends string ? K : never }[keyof En];
export type PluralKey = { [K in keyof En]: En[K] extends string ? never : K }[keyof En];
/** Messages is what each language's table must hold: every key. */
export type Messages = { [K in keyof En]: En[K] extends string ? string : Plural };

declare global {
  interface Window {
    /** parleyMessages is set by a language's script (locales/<lang>.ts). */
    parleyMessages?: Messages;
  }
}

let table: Messages = en;
/** lang is the language in use, a BCP 47 tag ("fr", or "pt-BR" when the
 * browser said so: dates then follow the region). */
export let lang = "en";
/** chosen is the agent's own setting ("" = the browser's). */
export let chosen = "";

const STORED = "parley:agent:locale";

/** fill puts vars into {name} placeholders; numbers the reader's way. */
function fill(s: string, vars?: Record<string, string | number>): string {
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k: string) => {
    const v = vars[k];
    return v === undefined ? m : typeof v === "number" ? num(v) : v;
  });
}

/** t is key's text in the language in use, its {name}s filled in. */
export function t(key: Key, vars?: Record<string, string | number>): string {
  return fill((table[key] as string) ?? en[key], vars);
}

/** tn is key's text for n (one, few, many… by the language's rules), with
 * {n} and vars filled in. */
export function tn(key: PluralKey, n: number, vars?: Record<string, string | number>): string {
  const forms = (table[key] ?? en[key]) as Plural;
  const form = forms[new Intl.PluralRules(lang).select(n)] ?? forms.other;
  return fill(form, { n, ...vars });
}

/** tx is key's text with {name}s filled by elements (a link, a <code>),
 * so that a language puts them where its grammar wants them. Give a
 * left-to-right part (a path, a header) dir="ltr", so that in Arabic its
 * slashes and brackets stay where they belong. */
export function tx(key: Key, parts: Record<string, ComponentChild>): ComponentChild[] {
  return ((table[key] as string) ?? en[key]).split(/\{(\w+)\}/).map((s, i) => (i % 2 ? (parts[s] ?? `{${s}}`) : s));
}

/** num writes a number the reader's way. */
export function num(n: number, opts?: Intl.NumberFormatOptions): string {
  return n.toLocaleString(lang, opts);
}

/** time is a time of day for today, a short date otherwise. */
export function time(iso: string): string {
  return shortTime(iso, new Date(), lang);
}

/** dateTime is a full date and time. */
export function dateTime(iso: string | Date, opts: Intl.DateTimeFormatOptions = { dateStyle: "medium", timeStyle: "short" }): string {
  const d = typeof iso === "string" ? new Date(iso) : iso;
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString(lang, opts);
}

/** pick is the language to use: the agent's setting, then the browser's
 * first one the dashboard speaks; English otherwise. A choice keeps its
 * region ("pt-BR") for dates and numbers. */
export function pick(setting: string | undefined, browser: readonly string[]): string {
  for (const tag of [setting, ...browser]) {
    const base = (tag || "").toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.some(([l]) => l === base)) return tag!.replace("_", "-");
  }
  return "en";
}

/** storedChoice is the last language chosen in this browser (for the
 * sign-in page, before the server can say). */
export function storedChoice(): string {
  try {
    return localStorage.getItem(STORED) ?? "";
  } catch {
    return "";
  }
}

/** load fetches a language's table once (a script that sets
 * window.parleyMessages). */
const loaded = new Map<string, Promise<Messages | null>>([["en", Promise.resolve(en)]]);
function load(base: string): Promise<Messages | null> {
  let p = loaded.get(base);
  if (!p) {
    p = new Promise((resolve) => {
      const s = document.createElement("script");
      s.src = `/app/locale-${base}.js`;
      s.onload = () => {
        resolve(window.parleyMessages ?? null);
        window.parleyMessages = undefined;
      };
      s.onerror = () => {
        loaded.delete(base); // retried on the next choice
        resolve(null);
      };
      document.head.appendChild(s);
    });
    loaded.set(base, p);
  }
  return p;
}

/** applyLanguage sets the language from the agent's setting (or the
 * browser's), loading its table, and sets the page's lang and direction.
 * A table that cannot be loaded leaves English. */
export async function applyLanguage(setting: string | undefined): Promise<void> {
  chosen = setting ?? "";
  const tag = pick(setting, navigator.languages ?? [navigator.language]);
  const base = tag.split("-")[0];
  const got = await load(base);
  table = got ?? en;
  lang = got ? tag : "en";
  const root = document.documentElement;
  root.lang = lang;
  root.dir = base === "ar" && got ? "rtl" : "ltr";
}

/** choose saves the agent's choice on the server and in this browser, and
 * switches to it. */
export async function choose(setting: string): Promise<void> {
  await api("PUT", "/api/me/locale", { locale: setting });
  try {
    localStorage.setItem(STORED, setting);
  } catch {
    // The server keeps it; only the sign-in page falls back to the browser's.
  }
  await applyLanguage(setting);
}

/** remember keeps the server's setting in this browser for the sign-in page. */
export function remember(setting: string): void {
  try {
    localStorage.setItem(STORED, setting);
  } catch {
    // Not kept: the sign-in page follows the browser.
  }
}

// The error codes the API answers with (pkg/apierr, pkg/protocol) that an
// agent sees, said in their language.
const codeKeys: Record<string, Key> = {
  invalid: "error.invalid",
  not_found: "error.not_found",
  forbidden: "error.forbidden",
  conflict: "error.conflict",
  unavailable: "error.unavailable",
  too_big: "error.too_big",
  rate_limited: "error.rate_limited",
  closed: "error.closed",
  network: "error.network",
  internal: "error.internal",
};

/** errorText is what to show an agent for a failed call or action: the
 * error's kind in their language, with the server's (English) message as
 * the detail. In English the server's message says it all. */
export function errorText(e: unknown): string {
  const code = e instanceof ApiError ? e.code : typeof e === "object" && e && "code" in e ? String((e as { code: unknown }).code) : "";
  const message = e instanceof Error ? e.message : typeof e === "object" && e && "message" in e ? String((e as { message: unknown }).message) : String(e);
  if (lang.startsWith("en")) return message || code;
  const key = codeKeys[code] ?? (e instanceof ApiError && e.status === 401 ? "error.signed_out" : e instanceof ApiError && e.status >= 500 ? "error.unavailable" : undefined);
  if (!key) return message || code;
  return message ? `${t(key)} (${message})` : t(key);
}
