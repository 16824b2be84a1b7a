// Email (admins): the SMTP server the workspace sends through, who is told
// of offline messages, a test mail that shows what the server answered,
// and the log of outgoing mail with a retry for what failed. What gets
// mailed when is the server's (pkg/mailer): offline messages to the team,
// agents' replies to visitors who left the site.

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { Dialog, Table } from "./dialog";
import { type Key, dateTime, errorText as message, t, tn } from "./i18n";

interface Settings {
  enabled: boolean;
  host: string;
  port: number;
  security: "starttls" | "tls" | "none";
  username: string;
  has_password: boolean;
  from_address: string;
  from_name: string;
  team_to: string;
  reply_domain: string;
}

interface Mail {
  id: number;
  kind: string;
  to: string;
  subject: string;
  status: "sent" | "failed" | "waiting";
  attempts: number;
  last_error?: string;
  next_at?: string;
  sent_at?: string;
  created_at: string;
}

const kinds: Record<string, Key> = {
  offline: "conv.status.offline",
  missed: "email.kind.missed",
  reply: "email.kind.reply",
  test: "email.kind.test",
  invite: "email.kind.invite",
};

function mailState(m: Mail): string {
  if (m.status === "sent") return t("email.sent");
  if (m.status === "failed") return t("email.failed");
  return m.attempts > 0 ? tn("email.retrying", m.attempts) : t("email.waiting");
}

export function EmailButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="open-email" onClick={() => setOpen(true)}>
        {t("side.email")}
      </button>
      {open && (
        <Dialog title={t("side.email")} wide onClose={() => setOpen(false)}>
          <EmailAdmin />
        </Dialog>
      )}
    </>
  );
}

export function EmailAdmin() {
  const [s, setS] = useState<Settings | null>(null);
  const [password, setPassword] = useState<string | null>(null); // null: keep the stored one
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [testTo, setTestTo] = useState("");
  const [busy, setBusy] = useState(false);
  const [mails, setMails] = useState<Mail[]>([]);
  const loadMails = () =>
    api<{ mails: Mail[] }>("GET", "/api/email/outbox").then(
      (x) => setMails(x.mails),
      (e) => setNote({ ok: false, text: message(e) }),
    );
  useEffect(() => {
    api<{ settings: Settings }>("GET", "/api/email/settings").then(
      (x) => setS(x.settings),
      (e) => setNote({ ok: false, text: message(e) }),
    );
    void loadMails();
  }, []);
  if (!s) return <p class="pa-muted">{note?.text ?? t("common.loading")}</p>;
  const set = (patch: Partial<Settings>) => setS({ ...s, ...patch });
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNote(null);
    try {
      const body: Record<string, unknown> = { ...s };
      delete body.has_password;
      delete body.reply_domain;
      if (password !== null) body.password = password;
      const x = await api<{ settings: Settings }>("PUT", "/api/email/settings", body);
      setS(x.settings);
      setPassword(null);
      setNote({ ok: true, text: x.settings.enabled ? t("email.savedOn") : t("email.savedOff") });
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  };
  const test = async () => {
    setBusy(true);
    setNote(null);
    try {
      await api("POST", "/api/email/test", { to: testTo });
      setNote({ ok: true, text: t("email.testTaken", { to: testTo }) });
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  };
  const retry = async (m: Mail) => {
    try {
      await api("POST", `/api/email/outbox/${m.id}/retry`);
      await loadMails();
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  return (
    <div class="pa-email" data-testid="email-admin">
      <form class="pa-form-grid" onSubmit={save} aria-label={t("email.settings")}>
        <label class="pa-check pa-wide">
          <input type="checkbox" data-testid="email-enabled" checked={s.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          {t("email.enabled")}
        </label>
        <fieldset>
          <legend>{t("email.smtp")}</legend>
          <label>
            {t("email.host")}
            <input data-testid="smtp-host" placeholder="smtp.example.com" maxLength={255} value={s.host} onInput={(e) => set({ host: e.currentTarget.value })} />
          </label>
          <label>
            {t("email.port")}
            <input
              data-testid="smtp-port"
              type="number"
              min={1}
              max={65535}
              value={s.port}
              onInput={(e) => set({ port: Number(e.currentTarget.value) })}
            />
          </label>
          <label>
            {t("email.security")}
            <select data-testid="smtp-security" value={s.security} onChange={(e) => set({ security: e.currentTarget.value as Settings["security"] })}>
              <option value="starttls">{t("email.starttls")}</option>
              <option value="tls">{t("email.tls")}</option>
              <option value="none">{t("email.plain")}</option>
            </select>
          </label>
          <label>
            {t("email.user")}
            <input data-testid="smtp-user" autoComplete="off" maxLength={320} value={s.username} onInput={(e) => set({ username: e.currentTarget.value })} />
          </label>
          <label>
            {t("login.password")}
            <input
              data-testid="smtp-password"
              type="password"
              autoComplete="new-password"
              placeholder={s.has_password ? t("email.passwordSaved") : ""}
              value={password ?? ""}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
        </fieldset>
        <fieldset>
          <legend>{t("email.sender")}</legend>
          <label>
            {t("email.fromAddress")}
            <input
              data-testid="from-address"
              type="email"
              placeholder="support@example.com"
              maxLength={320}
              value={s.from_address}
              onInput={(e) => set({ from_address: e.currentTarget.value })}
            />
          </label>
          <label>
            {t("email.fromName")}
            <input data-testid="from-name" placeholder={t("email.fromNameHint")} maxLength={200} value={s.from_name} onInput={(e) => set({ from_name: e.currentTarget.value })} />
          </label>
          <label class="pa-wide">
            {t("email.teamTo")}
            <input data-testid="team-to" placeholder="team@example.com" maxLength={2000} value={s.team_to} onInput={(e) => set({ team_to: e.currentTarget.value })} />
          </label>
        </fieldset>
        <p class="pa-muted pa-wide">
          {s.reply_domain
            ? t("email.replyOn", { domain: s.reply_domain })
            : t("email.replyOff")}
        </p>
        <div class="pa-wide pa-email-actions">
          <button type="submit" class="pa-btn" data-testid="email-save" disabled={busy}>
            {t("common.save")}
          </button>
          <input
            aria-label={t("email.testTo")}
            data-testid="test-to"
            type="email"
            placeholder="you@example.com"
            value={testTo}
            onInput={(e) => setTestTo(e.currentTarget.value)}
          />
          <button type="button" class="pa-btn-outline" data-testid="email-test" disabled={busy || !testTo} onClick={() => void test()}>
            {t("email.test")}
          </button>
        </div>
        {note && (
          <div class="pa-wide" role={note.ok ? "status" : "alert"} data-testid="email-note">
            {note.text}
          </div>
        )}
      </form>
      <h3>{t("email.log")}</h3>
      {mails.length === 0 ? (
        <p class="pa-muted">{t("email.nothingSent")}</p>
      ) : (
        <Table testid="mail-log" head={[t("admin.when"), t("email.what"), t("email.to"), t("filters.status"), ""]} rows={mails}>
          {(m) => (
            <tr key={m.id} data-testid="mail-row">
              <td>{dateTime(m.created_at)}</td>
              <td>
                {kinds[m.kind] ? t(kinds[m.kind]) : m.kind}
                <div class="pa-muted">{m.subject}</div>
              </td>
              <td>{m.to}</td>
              <td>
                {mailState(m)}
                {m.last_error && <div class="pa-muted">{m.last_error}</div>}
              </td>
              <td>
                {m.status !== "sent" && (
                  <button type="button" class="pa-btn-outline" onClick={() => void retry(m)}>
                    {t("email.retryNow")}
                  </button>
                )}
              </td>
            </tr>
          )}
        </Table>
      )}
    </div>
  );
}

/** TranscriptButton mails the conversation's transcript to the visitor, at
 * the address they left (the server never takes another one). */
export function TranscriptButton({ conversation }: { conversation: string }) {
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  const send = async () => {
    setState(null);
    try {
      const r = await api<{ to: string }>("POST", `/api/conversations/${encodeURIComponent(conversation)}/transcript`);
      setState({ ok: true, text: t("email.transcriptSent", { to: r.to }) });
    } catch (e) {
      setState({ ok: false, text: message(e) });
    }
  };
  return (
    <>
      <button type="button" class="pa-btn-outline" data-testid="email-transcript" title={t("email.transcriptTitle")} onClick={() => void send()}>
        {t("email.transcript")}
      </button>
      {state && (
        <span class={"pa-transcript-note" + (state.ok ? "" : " pa-transcript-failed")} role={state.ok ? "status" : "alert"} data-testid="transcript-note">
          {state.text}
        </span>
      )}
    </>
  );
}
