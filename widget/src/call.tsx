// The visitor's call bar: the shared one (shared/callbar.tsx) in the
// widget's look and words. The calls themselves are shared/call.ts.

import { CallBar as SharedCallBar, type CallLook } from "./shared/callbar";
import type { CallManager } from "./shared/call";
import { t } from "./i18n";

/** look is built on use: its words are in the visitor's language, known
 * only once i18n loaded it. */
const look = (): CallLook => ({
  prefix: "pw",
  videoClass: "pw-call-video",
  acceptClass: "pw-call-btn pw-call-ok",
  declineClass: "pw-call-btn pw-call-no",
  muteClass: "pw-call-btn",
  hangUpClass: "pw-call-btn pw-call-no",
  startClass: "pw-call-btn",
  viewScreen: t("Accept"),
  stopScreen: t("Stop"),
  voiceTitle: t("Start a voice call"),
  screenTitle: t("Show the agent your screen"),
  screenLabel: t("Share my screen"),
  t,
});

/** CallBar: voice says whether the site lets visitors start voice calls
 * (they can always answer the agent's, and offer their screen). */
export function CallBar(p: { calls: CallManager; conversation: string; selfID: string | undefined; voice: boolean }) {
  return <SharedCallBar {...p} look={look()} />;
}
