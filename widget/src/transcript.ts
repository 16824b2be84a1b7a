// Transcript download: the conversation as this browser holds it, written
// out as a plain text file the visitor saves. Nothing is asked of the
// server: the visitor keeps what they saw.

import type { ChatItem } from "./shared/client";
import { lang, t } from "./i18n";

/** transcriptText is the chat as text: a title line, then one line (or
 * more) per stored message with its time and author. */
export function transcriptText(title: string, items: ChatItem[]): string {
  const lines = [title, ""];
  for (const m of items) {
    if (m.seq === null) continue; // not sent (yet)
    const when = new Date(m.sent_at).toLocaleString(lang);
    const who = m.author.kind === "visitor" ? t("You") : m.author.name;
    lines.push(`[${when}] ${who}: ${m.body}`);
  }
  return lines.join("\n") + "\n";
}

/** download saves text as a file named name. */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
