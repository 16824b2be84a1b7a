// How the agent app names a visitor. A visitor who left an offline message
// or filled in a form gave a name and an email; those say who it is, where
// the generated "Visitor 1234" does not.

import type { ConversationInfo } from "../../pkg/protocol/protocol";

/** visitorName is the name to title a conversation's visitor with. */
export function visitorName(info: ConversationInfo | undefined, fallback = "Visitor"): string {
  return info?.contact_name?.trim() || info?.visitor_name || fallback;
}

/** visitorEmail is the email the visitor gave, if any. */
export function visitorEmail(info: ConversationInfo | undefined): string {
  return info?.contact_email?.trim() || info?.visitor_email?.trim() || "";
}
