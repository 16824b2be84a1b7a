// Integrations (admins): the API tokens a workspace's own systems call
// /api/v1 with, and the webhooks Parley calls them back on, with each
// webhook's delivery log. Secrets (a token, a webhook's signing secret)
// are shown once, in the answer that made them; the server keeps only a
// hash of a token and the sealed webhook secret.

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { ScreenButton, Table, useConfirm, when } from "./dialog";
import { CopyButton } from "./sites";
import { type Key, errorText as message, t, tx } from "./i18n";

interface Token {
  id: string;
  name: string;
  prefix: string;
  scope: "read" | "write";
  secret?: string;
  created_by: string;
  created_by_name?: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface Webhook {
  id: string;
  url: string;
  events: string[];
  secret?: string;
  enabled: boolean;
  created_at: string;
}

interface Delivery {
  id: string;
  event_id: string;
  event: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: string | null;
  response_status: number;
  response_excerpt: string;
  last_error: string;
  replay_of: string;
  created_at: string;
  delivered_at: string | null;
}

/** ShownOnce shows a new secret with a copy button and says plainly
 * (title) that it will not be shown again. */
function ShownOnce({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  return (
    <div class="pa-shown-once" role="status" data-testid="shown-once">
      <strong>{title}</strong> {t("admin.shownOnceKeep")}
      <div class="pa-shown-once-row">
        <code data-testid="shown-secret">{secret}</code>
        <CopyButton text={secret} testid="copy-secret" />
        <button type="button" class="pa-btn-outline" onClick={onDone}>
          {t("admin.done")}
        </button>
      </div>
    </div>
  );
}

const scopes: Record<Token["scope"], Key> = { read: "tokens.scope.read", write: "tokens.scope.write" };

function Note({ note }: { note: { ok: boolean; text: string } | null }) {
  if (!note) return null;
  return (
    <div class={note.ok ? "pa-done" : "pa-error"} role={note.ok ? "status" : "alert"} data-testid="screen-note">
      {note.text}
    </div>
  );
}

export function TokensButton() {
  return (
    <ScreenButton label={t("side.apiTokens")} testid="open-tokens">
      {() => <Tokens />}
    </ScreenButton>
  );
}

function Tokens() {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<"read" | "write">("read");
  const [made, setMade] = useState<Token | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirmation, ask] = useConfirm();
  const load = () =>
    api<{ tokens: Token[] }>("GET", "/api/tokens").then(
      (r) => setTokens(r.tokens),
      (e) => setNote({ ok: false, text: message(e) }),
    );
  useEffect(() => void load(), []);
  const create = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    try {
      const r = await api<{ token: Token }>("POST", "/api/tokens", { name: name.trim(), scope });
      setMade(r.token);
      setName("");
      await load();
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  const revoke = async (tok: Token) => {
    if (!(await ask(t("tokens.revokeQ", { name: tok.name, prefix: tok.prefix }), t("tokens.revokeAction")))) return;
    try {
      await api("DELETE", `/api/tokens/${encodeURIComponent(tok.id)}`);
      setNote({ ok: true, text: t("tokens.revoked", { name: tok.name }) });
      await load();
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  return (
    <div data-testid="tokens-admin">
      <p class="pa-muted">
        {tx("tokens.intro", {
          path: <code dir="ltr">/api/v1</code>,
          header: <code dir="ltr">Authorization: Bearer &lt;token&gt;</code>,
          doc: (
            <a href="/api/openapi.json" target="_blank" rel="noopener" dir="ltr">
              /api/openapi.json
            </a>
          ),
        })}
      </p>
      {made?.secret && <ShownOnce title={t("tokens.shownOnce", { name: made.name })} secret={made.secret} onDone={() => setMade(null)} />}
      <Note note={note} />
      <Table
        testid="tokens"
        head={[t("vp.name"), t("tokens.access"), t("tokens.created"), t("tokens.lastUsed"), ""]}
        rows={tokens}
        empty={t("tokens.none")}
      >
        {(tok) => (
          <tr key={tok.id} data-testid="token-row" data-name={tok.name} class={tok.revoked_at ? "pa-row-off" : ""}>
            <td>
              {tok.name}
              <div class="pa-muted">
                <code dir="ltr">{tok.prefix}…</code>
              </div>
            </td>
            <td>{t(scopes[tok.scope])}</td>
            <td>
              {when(tok.created_at)}
              <div class="pa-muted">{t("tokens.by", { name: tok.created_by_name || t("tokens.removedAgent") })}</div>
            </td>
            <td data-testid="token-used">{tok.last_used_at ? when(tok.last_used_at) : t("tokens.never")}</td>
            <td class="pa-actions">
              {tok.revoked_at ? (
                <span class="pa-muted">{t("tokens.revokedAt", { time: when(tok.revoked_at) })}</span>
              ) : (
                <button
                  type="button"
                  class="pa-btn-outline pa-btn-danger pa-btn-sm"
                  aria-label={t("tokens.revokeOne", { name: tok.name })}
                  onClick={() => void revoke(tok)}
                >
                  {t("admin.revoke")}
                </button>
              )}
            </td>
          </tr>
        )}
      </Table>
      <form class="pa-inline-form" aria-label={t("tokens.create")} onSubmit={create}>
        <h3>{t("tokens.create")}</h3>
        <label>
          {t("tokens.name")}
          <input
            data-testid="token-name"
            required
            maxLength={100}
            placeholder={t("tokens.nameHint")}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          {t("tokens.access")}
          <select data-testid="token-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value as Token["scope"])}>
            <option value="read">{t(scopes.read)}</option>
            <option value="write">{t(scopes.write)}</option>
          </select>
        </label>
        <button type="submit" class="pa-btn" data-testid="token-create">
          {t("tokens.createButton")}
        </button>
      </form>
      {confirmation}
    </div>
  );
}

export function WebhooksButton() {
  return (
    <ScreenButton label={t("side.webhooks")} testid="open-webhooks">
      {() => <Webhooks />}
    </ScreenButton>
  );
}

// What each event (an identifier, shown as it is) means, for people.
const eventNames: Record<string, Key> = {
  "conversation.started": "hooks.ev.conversation.started",
  "conversation.assigned": "hooks.ev.conversation.assigned",
  "conversation.closed": "hooks.ev.conversation.closed",
  "message.created": "hooks.ev.message.created",
  "contact.created": "hooks.ev.contact.created",
  "csat.received": "hooks.ev.csat.received",
  "webhook.test": "hooks.ev.webhook.test",
};
const eventName = (e: string) => (eventNames[e] ? t(eventNames[e]) : e);

function Webhooks() {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [types, setTypes] = useState<string[]>([]);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>([]);
  const [secret, setSecret] = useState<{ title: string; secret: string } | null>(null);
  const [log, setLog] = useState<Webhook | null>(null);
  // editing is the webhook the form below changes; null: the form adds one.
  const [editing, setEditing] = useState<Webhook | null>(null);
  const urlInput = useRef<HTMLInputElement>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirmation, ask] = useConfirm();
  const load = () =>
    api<{ webhooks: Webhook[]; event_types: string[] }>("GET", "/api/webhooks").then(
      (r) => {
        setHooks(r.webhooks);
        setTypes(r.event_types);
        // The open delivery log follows its webhook's edits (its URL).
        setLog((l) => l && (r.webhooks.find((w) => w.id === l.id) ?? null));
      },
      (e) => setNote({ ok: false, text: message(e) }),
    );
  useEffect(() => void load(), []);
  const act = async (f: () => Promise<unknown>, ok?: string) => {
    setNote(null);
    try {
      await f();
      if (ok) setNote({ ok: true, text: ok });
      await load();
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  const edit = (w: Webhook | null) => {
    setEditing(w);
    setUrl(w?.url ?? "");
    setEvents(w?.events ?? []);
    if (w) {
      urlInput.current?.scrollIntoView({ block: "nearest" });
      urlInput.current?.focus();
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    if (editing) {
      void act(async () => {
        await api("PATCH", `/api/webhooks/${editing.id}`, { url: url.trim(), events });
        edit(null);
      }, t("hooks.saved"));
      return;
    }
    void act(async () => {
      const r = await api<{ webhook: Webhook }>("POST", "/api/webhooks", { url: url.trim(), events });
      setSecret({ title: t("hooks.secretOnce", { url: r.webhook.url }), secret: r.webhook.secret ?? "" });
      edit(null);
    });
  };
  const rotate = async (w: Webhook) => {
    if (!(await ask(t("hooks.rotateQ", { url: w.url }), t("hooks.rotateAction")))) return;
    await act(async () => {
      const r = await api<{ webhook: Webhook }>("POST", `/api/webhooks/${w.id}/secret`);
      setSecret({ title: t("hooks.newSecretOnce", { url: w.url }), secret: r.webhook.secret ?? "" });
    });
  };
  const remove = async (w: Webhook) => {
    if (!(await ask(t("hooks.deleteQ", { url: w.url }), t("hooks.deleteAction")))) return;
    if (log?.id === w.id) setLog(null);
    if (editing?.id === w.id) edit(null);
    await act(() => api("DELETE", `/api/webhooks/${w.id}`), t("hooks.deleted"));
  };
  return (
    <div data-testid="webhooks-admin">
      <p class="pa-muted">{tx("hooks.intro", { header: <code dir="ltr">Parley-Signature</code> })}</p>
      {secret && <ShownOnce title={secret.title} secret={secret.secret} onDone={() => setSecret(null)} />}
      <Note note={note} />
      <Table testid="webhooks" head={[t("hooks.url"), t("hooks.events"), t("hooks.on"), ""]} rows={hooks} empty={t("hooks.none")}>
        {(w) => (
          <tr key={w.id} data-testid="webhook-row" class={w.enabled ? "" : "pa-row-off"}>
            <td class="pa-break">{w.url}</td>
            <td>
              {w.events.map((e) => (
                <span key={e} class="pa-chip" title={e}>
                  {eventName(e)}
                </span>
              ))}
            </td>
            <td>
              <input
                type="checkbox"
                aria-label={t("hooks.sendTo", { url: w.url })}
                data-testid="webhook-enabled"
                checked={w.enabled}
                onChange={(e) => void act(() => api("PATCH", `/api/webhooks/${w.id}`, { enabled: e.currentTarget.checked }))}
              />
            </td>
            <td class="pa-actions">
              <button
                type="button"
                class="pa-btn-outline pa-btn-sm"
                data-testid="webhook-edit"
                aria-label={t("hooks.editOne", { url: w.url })}
                onClick={() => edit(w)}
              >
                {t("common.edit")}
              </button>
              <button type="button" class="pa-btn-outline pa-btn-sm" data-testid="webhook-log" onClick={() => setLog(w)}>
                {t("hooks.log")}
              </button>
              <button
                type="button"
                class="pa-btn-outline pa-btn-sm"
                data-testid="webhook-test"
                onClick={() =>
                  void act(async () => {
                    await api("POST", `/api/webhooks/${w.id}/test`);
                    setLog(w);
                  }, t("hooks.testQueued"))
                }
              >
                {t("hooks.test")}
              </button>
              <button type="button" class="pa-btn-outline pa-btn-sm" data-testid="webhook-rotate" onClick={() => void rotate(w)}>
                {t("hooks.rotate")}
              </button>
              <button type="button" class="pa-btn-outline pa-btn-danger pa-btn-sm" aria-label={t("hooks.deleteOne", { url: w.url })} onClick={() => void remove(w)}>
                {t("canned.delete")}
              </button>
            </td>
          </tr>
        )}
      </Table>
      {log && <DeliveryLog hook={log} onError={(text) => setNote({ ok: false, text })} />}
      <form class="pa-form-stack" aria-label={editing ? t("hooks.editTitle") : t("hooks.add")} onSubmit={submit} data-testid="webhook-form">
        <h3>{editing ? t("hooks.editTitle") : t("hooks.add")}</h3>
        <label>
          {t("hooks.urlHttps")}
          <input
            ref={urlInput}
            data-testid="webhook-url"
            required
            type="url"
            maxLength={2000}
            placeholder="https://example.com/parley-events"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </label>
        <fieldset class="pa-checks">
          <legend>{t("hooks.events")}</legend>
          {types.map((ev) => (
            <label key={ev} class="pa-check">
              <input
                type="checkbox"
                data-testid={"webhook-event-" + ev}
                checked={events.includes(ev)}
                onChange={(e) => setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))}
              />
              <span>
                {eventName(ev)}
                <code class="pa-event-type">{ev}</code>
              </span>
            </label>
          ))}
        </fieldset>
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn" data-testid={editing ? "webhook-save" : "webhook-create"} disabled={events.length === 0}>
            {editing ? t("common.save") : t("hooks.addButton")}
          </button>
          {editing && (
            <button type="button" class="pa-btn-outline" onClick={() => edit(null)}>
              {t("common.cancel")}
            </button>
          )}
        </div>
      </form>
      {confirmation}
    </div>
  );
}

function deliveryState(d: Delivery): string {
  if (d.status === "delivered") return t("hooks.state.delivered");
  if (d.status === "failed") return t("hooks.state.failed");
  return d.attempts > 0 ? t("hooks.state.retrying") : t("hooks.state.queued");
}

/** DeliveryLog is one webhook's latest deliveries, refreshed while shown
 * (deliveries and retries happen on the server's schedule). */
function DeliveryLog({ hook, onError }: { hook: Webhook; onError: (text: string) => void }) {
  const [list, setList] = useState<Delivery[] | null>(null);
  const load = () =>
    api<{ deliveries: Delivery[] }>("GET", `/api/webhooks/${hook.id}/deliveries`).then(
      (r) => setList(r.deliveries),
      (e) => onError(message(e)),
    );
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 3000);
    return () => clearInterval(timer);
  }, [hook.id]);
  const replay = async (d: Delivery) => {
    try {
      await api("POST", `/api/webhook-deliveries/${d.id}/replay`);
      await load();
    } catch (err) {
      onError(message(err));
    }
  };
  return (
    <section aria-label={t("hooks.logOf", { url: hook.url })} data-testid="delivery-log">
      <h3>
        {t("hooks.log")} <span class="pa-muted pa-break">{hook.url}</span>
      </h3>
      <Table
        head={[
          t("admin.when"),
          t("hooks.event"),
          t("filters.status"),
          t("hooks.http"),
          t("hooks.attempts"),
          t("hooks.nextRetry"),
          t("hooks.response"),
          "",
        ]}
        rows={list}
        empty={t("hooks.noDeliveries")}
      >
        {(d) => (
          <tr key={d.id} data-testid="delivery-row" data-status={d.status} data-event={d.event}>
            <td>
              {when(d.created_at)}
              {d.replay_of && <div class="pa-muted">{t("hooks.replayed")}</div>}
            </td>
            <td title={d.event}>{eventName(d.event)}</td>
            <td class={"pa-delivery-" + d.status}>{deliveryState(d)}</td>
            <td data-testid="delivery-code">{d.response_status || "—"}</td>
            <td>{d.attempts}</td>
            <td>{d.status === "pending" && d.attempts > 0 ? when(d.next_attempt_at) : "—"}</td>
            <td class="pa-excerpt">
              {d.response_excerpt && <code>{d.response_excerpt}</code>}
              {d.last_error && <div class="pa-muted">{d.last_error}</div>}
            </td>
            <td>
              {d.status !== "pending" && (
                <button type="button" class="pa-btn-outline pa-btn-sm" data-testid="delivery-replay" onClick={() => void replay(d)}>
                  {t("hooks.replay")}
                </button>
              )}
            </td>
          </tr>
        )}
      </Table>
    </section>
  );
}
