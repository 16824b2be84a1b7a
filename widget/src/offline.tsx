// The widget's offline side: whether anyone can chat now
// (GET /api/widget/availability), and the form that leaves a message with a
// name and an email when nobody can (POST /api/widget/offline). The message
// becomes an "offline" conversation agents read later.

import { useEffect, useState } from "preact/hooks";
import { api } from "./shared/http";
import { newClientID } from "./shared/uuid";
import { reopensText } from "./headline";
import { t } from "./i18n";
import { PrechatInputs, fieldsBody, type PrechatValues } from "./prechat";
import type { PrechatField } from "../../pkg/protocol/protocol";

export interface Availability {
  online: boolean;
  reason?: string;
  reopens_at?: string;
  /** The site's pre-chat choices (labels) an admin offered; the only
   * choices a visitor is shown. */
  choices?: string[];
  /** The site lets visitors start voice calls (call.tsx). */
  visitor_calls?: boolean;
  /** The site's assistant answers a new visitor now (then the chat
   * opens instead of the offline form). */
  assistant?: boolean;
}

/** useAvailability asks the server whether anyone can chat now, and again
 * while the chat is shown: every 3 s while nobody is there (so the chat
 * comes back as soon as an agent does), every 30 s otherwise. null until
 * the first answer. */
export function useAvailability(site: string): Availability | null {
  const [av, setAv] = useState<Availability | null>(null);
  const online = av?.online ?? true;
  useEffect(() => {
    if (!site) return;
    let live = true;
    const check = () =>
      api<Availability>("GET", "/api/widget/availability?site=" + encodeURIComponent(site)).then(
        (a) => live && setAv(a),
        () => undefined, // unknown: keep chatting, the server decides at start
      );
    if (av === null) void check();
    const t = setInterval(check, online ? 30000 : 3000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [site, online]);
  return av;
}

function token(site: string): string {
  try {
    return localStorage.getItem(`parley:${site}:token`) ?? "";
  } catch {
    return "";
  }
}

/** OfflineForm takes a message with a name and an email, and the site's
 * other pre-chat fields (phone, its own ones). */
export function OfflineForm({ site, reason, reopensAt, fields = [] }: { site: string; reason?: string; reopensAt?: string; fields?: PrechatField[] }) {
  const [extra, setExtra] = useState<PrechatValues>({});
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [body, setBody] = useState("");
  const [state, setState] = useState<"" | "sending" | "sent">("");
  const [error, setError] = useState("");
  const [clientID] = useState(newClientID);

  const reopens = reopensAt ? new Date(reopensAt) : null;
  const notice =
    reason !== "outside_hours"
      ? t("Nobody is available to chat right now.")
      : reopens && !Number.isNaN(reopens.getTime())
        ? t("We are closed right now (back {0}).", reopensText(reopens))
        : t("We are closed right now.");

  const submit = async (e: Event) => {
    e.preventDefault();
    setState("sending");
    setError("");
    try {
      await api("POST", "/api/widget/offline", { token: token(site), client_id: clientID, name, email, message: body, fields: fieldsBody(fields, extra) });
      setState("sent");
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setState("");
    }
  };

  if (state === "sent") {
    return (
      <div class="pw-offline" data-testid="offline-thanks" role="status">
        {t("Thank you, {0}. We will answer at {1}.", name, email)}
      </div>
    );
  }
  return (
    <form class="pw-offline" data-testid="offline-form" onSubmit={submit}>
      <p data-testid="offline-notice">
        {notice} {t("Leave us a message and we will get back to you by email.")}
      </p>
      <input data-testid="offline-name" aria-label={t("Your name")} placeholder={t("Your name")} required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <input data-testid="offline-email" aria-label={t("Your email")} type="email" placeholder={t("Your email")} required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      <PrechatInputs fields={fields} values={extra} set={setExtra} skip={["name", "email"]} />
      <textarea data-testid="offline-message" aria-label={t("Your message")} placeholder={t("Your message")} required rows={3} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
      {error && (
        <div class="pw-error" role="alert">
          {error}
        </div>
      )}
      <button type="submit" class="pw-btn" data-testid="offline-submit" disabled={state === "sending"}>
        {state === "sending" ? t("Sending…") : t("Send message")}
      </button>
    </form>
  );
}
