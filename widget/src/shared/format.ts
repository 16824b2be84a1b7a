// Small text helpers shared by the widget and the agent app.

/** Translate turns an English text with {0}, {1}… placeholders into the
 * reader's language (the widget's i18n.t); english only fills it in. */
export type Translate = (s: string, ...args: (string | number)[]) => string;
export const english: Translate = (s, ...args) => s.replace(/\{(\d)\}/g, (_, i: string) => String(args[+i]));

/** queueText is the visitor's queue status line. waitSeconds is -1 (any
 * negative) when no agent is there to estimate from: then no time is
 * promised. */
export function queueText(position: number, waitSeconds: number, tr: Translate = english): string {
  if (waitSeconds < 0) return tr("Waiting for the next available agent — you are number {0}", position);
  return tr("Waiting for an agent — you are number {0}, about {1} min", position, Math.max(1, Math.ceil(waitSeconds / 60)));
}

/** shortTime shows a time of day for today, a short date otherwise, in
 * locale's way (the browser's when not given). */
export function shortTime(iso: string, now: Date = new Date(), locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay
    ? d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString(locale, { month: "short", day: "numeric" });
}

/** initials makes a two-letter avatar from a name ("Ada Lovelace" → "AL");
 * number-only words ("Visitor 1234") add nothing. */
export function initials(name: string): string {
  const parts = name
    .trim()
    .split(/\s+/)
    .filter((p) => p && !/^[0-9#]/.test(p));
  if (parts.length === 0) return name.trim().charAt(0).toUpperCase() || "?";
  const first = parts[0].charAt(0);
  const last = parts.length > 1 ? parts[parts.length - 1].charAt(0) : "";
  return (first + last).toUpperCase();
}

/** utf8Length is a string's size on the wire (the server limits bytes). */
export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** fileSize shows a file's size in KB or MB, in locale's way. */
export function fileSize(bytes: number, locale?: string): string {
  const mb = bytes >= 1 << 20;
  return (mb ? Math.round(bytes / 104857.6) / 10 : Math.max(1, Math.round(bytes / 1024))).toLocaleString(locale) + (mb ? " MB" : " KB");
}
