// What the widget's header says beside its dot: whether the team can
// answer now, not merely whether this browser is connected. "Online" only
// when someone can chat (or already does); otherwise away or closed, with
// when the site opens again.

import type { ConnState } from "./shared/client";
import type { Availability } from "./offline";
import { lang, t } from "./i18n";

export interface Headline {
  text: string;
  /** The dot's colour: online green, away grey, connecting amber. */
  tone: "online" | "away" | "connecting";
}

/** headline is the header's line. avail is null until the server said;
 * status: the visitor's conversation's ("open": an agent has it,
 * "assistant": the assistant answers it), undefined before one; offlineForm:
 * the widget shows the form to leave a message. */
export function headline(conn: ConnState, avail: Availability | null, status: string | undefined, offlineForm: boolean, now = new Date()): Headline {
  if (conn === "reconnecting") return { text: t("Reconnecting…"), tone: "connecting" };
  if (conn !== "online") return { text: t("Connecting…"), tone: "connecting" };
  // The assistant answers at any hour: the team being away is not news.
  if (status === "assistant" || (!status && avail?.assistant)) return { text: t("Our assistant is answering"), tone: "online" };
  if (status === "open" || avail?.online) return { text: t("Online"), tone: "online" };
  if (!avail) return { text: t("Connected"), tone: "connecting" };
  if (avail.reason !== "outside_hours") return { text: t(offlineForm ? "Away — leave a message" : "Away"), tone: "away" };
  const at = avail.reopens_at ? new Date(avail.reopens_at) : null;
  if (!at || Number.isNaN(at.getTime())) return { text: t(offlineForm ? "Closed — leave a message" : "Closed"), tone: "away" };
  return { text: t("Back {0}", reopensText(at, now)), tone: "away" };
}

/** reopensText says when a closed site opens again, in the visitor's
 * time: "at 09:00" today, else "Mon 09:00" (header and offline form). */
export function reopensText(at: Date, now = new Date()): string {
  const time = at.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === now.toDateString()) return t("at {0}", time);
  return at.toLocaleDateString(lang, { weekday: "short" }) + " " + time;
}
