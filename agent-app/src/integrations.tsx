// Integrations (admins): the API tokens a workspace's own systems call
// /api/v1 with, and the webhooks Parley calls them back on, with each
// webhook's delivery log. Secrets (a token, a webhook's signing secret)
// are shown once, in the answer that made them; the server keeps only a
// hash of a token and the sealed webhook secret.

import { useEffect, useState } from "preact/hooks";
import { api, errorMessage as message } from "@parley/shared/http";
import { ScreenButton, Table, useConfirm, when } from "./dialog";
import { CopyButton } from "./sites";
import { t } from "./i18n";

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

/** ShownOnce shows a new secret with a copy button and says plainly that
 * it will not be shown again. */
function ShownOnce({ what, secret, onDone }: { what: string; secret: string; onDone: () => void }) {
  return (
    <div class="pa-shown-once" role="status" data-testid="shown-once">
      <strong>Copy the {what} now: it is shown only this once.</strong> Parley does not keep it readable; if it is lost, make a new one.
      <div class="pa-shown-once-row">
        <code data-testid="shown-secret">{secret}</code>
        <CopyButton text={secret} testid="copy-secret" />
        <button type="button" class="pa-btn-outline" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

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
  const revoke = async (t: Token) => {
    if (!(await ask(`Systems calling the API with “${t.name}” (${t.prefix}…) are refused from now on. This cannot be undone.`, "Revoke the token")))
      return;
    try {
      await api("DELETE", `/api/tokens/${encodeURIComponent(t.id)}`);
      setNote({ ok: true, text: `“${t.name}” is revoked.` });
      await load();
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  return (
    <div data-testid="tokens-admin">
      <p class="pa-muted">
        Your own systems call the REST API at <code>/api/v1</code> with <code>Authorization: Bearer &lt;token&gt;</code>. Every route is described in{" "}
        <a href="/api/openapi.json" target="_blank" rel="noopener">
          /api/openapi.json
        </a>
        . A read token only reads; a write token also writes.
      </p>
      {made?.secret && <ShownOnce what={`token “${made.name}”`} secret={made.secret} onDone={() => setMade(null)} />}
      <Note note={note} />
      <Table testid="tokens" head={["Name", "Access", "Created", "Last used", ""]} rows={tokens} empty="No tokens yet.">
        {(t) => (
          <tr key={t.id} data-testid="token-row" data-name={t.name} class={t.revoked_at ? "pa-row-off" : ""}>
            <td>
              {t.name}
              <div class="pa-muted">
                <code>{t.prefix}…</code>
              </div>
            </td>
            <td>{t.scope === "write" ? "Read and write" : "Read"}</td>
            <td>
              {when(t.created_at)}
              <div class="pa-muted">by {t.created_by_name || "a removed agent"}</div>
            </td>
            <td data-testid="token-used">{t.last_used_at ? when(t.last_used_at) : "Never"}</td>
            <td class="pa-actions">
              {t.revoked_at ? (
                <span class="pa-muted">Revoked {when(t.revoked_at)}</span>
              ) : (
                <button type="button" class="pa-btn-outline pa-btn-danger pa-btn-sm" aria-label={`Revoke ${t.name}`} onClick={() => void revoke(t)}>
                  Revoke
                </button>
              )}
            </td>
          </tr>
        )}
      </Table>
      <form class="pa-inline-form" aria-label="Create a token" onSubmit={create}>
        <h3>Create a token</h3>
        <label>
          Name (what will use it)
          <input data-testid="token-name" required maxLength={100} placeholder="CRM sync" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Access
          <select data-testid="token-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value as "read" | "write")}>
            <option value="read">Read</option>
            <option value="write">Read and write</option>
          </select>
        </label>
        <button type="submit" class="pa-btn" data-testid="token-create">
          Create token
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

const eventNames: Record<string, string> = {
  "conversation.started": "Conversation started",
  "conversation.assigned": "Conversation assigned",
  "conversation.closed": "Conversation closed",
  "message.created": "Message created",
  "contact.created": "Contact left",
  "csat.received": "Rating received",
  "webhook.test": "Test event",
};

function Webhooks() {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [types, setTypes] = useState<string[]>([]);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>([]);
  const [secret, setSecret] = useState<{ what: string; secret: string } | null>(null);
  const [log, setLog] = useState<Webhook | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirmation, ask] = useConfirm();
  const load = () =>
    api<{ webhooks: Webhook[]; event_types: string[] }>("GET", "/api/webhooks").then(
      (r) => {
        setHooks(r.webhooks);
        setTypes(r.event_types);
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
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const r = await api<{ webhook: Webhook }>("POST", "/api/webhooks", { url: url.trim(), events });
      setSecret({ what: "signing secret of " + r.webhook.url, secret: r.webhook.secret ?? "" });
      setUrl("");
      setEvents([]);
    });
  };
  const rotate = async (w: Webhook) => {
    if (!(await ask(`Deliveries to ${w.url} are signed with a new secret from now on; your receiver must check with the new one.`, "Rotate the secret")))
      return;
    await act(async () => {
      const r = await api<{ webhook: Webhook }>("POST", `/api/webhooks/${w.id}/secret`);
      setSecret({ what: "new signing secret of " + w.url, secret: r.webhook.secret ?? "" });
    });
  };
  const remove = async (w: Webhook) => {
    if (!(await ask(`${w.url} gets no more events, and its delivery log is deleted.`, "Delete the webhook"))) return;
    if (log?.id === w.id) setLog(null);
    await act(() => api("DELETE", `/api/webhooks/${w.id}`), "Webhook deleted.");
  };
  return (
    <div data-testid="webhooks-admin">
      <p class="pa-muted">
        Parley POSTs each chosen event as JSON to your URL, signed: <code>Parley-Signature</code> is an HMAC-SHA256 of the timestamp and the body with
        the webhook's secret. A failed delivery is retried with growing waits for about a day.
      </p>
      {secret && <ShownOnce what={secret.what} secret={secret.secret} onDone={() => setSecret(null)} />}
      <Note note={note} />
      <Table testid="webhooks" head={["URL", "Events", "On", ""]} rows={hooks} empty="No webhooks yet.">
        {(w) => (
          <tr key={w.id} data-testid="webhook-row" class={w.enabled ? "" : "pa-row-off"}>
            <td class="pa-break">{w.url}</td>
            <td>
              {w.events.map((e) => (
                <span key={e} class="pa-chip">
                  {eventNames[e] ?? e}
                </span>
              ))}
            </td>
            <td>
              <input
                type="checkbox"
                aria-label={`Send events to ${w.url}`}
                data-testid="webhook-enabled"
                checked={w.enabled}
                onChange={(e) => void act(() => api("PATCH", `/api/webhooks/${w.id}`, { enabled: e.currentTarget.checked }))}
              />
            </td>
            <td class="pa-actions">
              <button type="button" class="pa-btn-outline pa-btn-sm" data-testid="webhook-log" onClick={() => setLog(w)}>
                Delivery log
              </button>
              <button
                type="button"
                class="pa-btn-outline pa-btn-sm"
                data-testid="webhook-test"
                onClick={() =>
                  void act(async () => {
                    await api("POST", `/api/webhooks/${w.id}/test`);
                    setLog(w);
                  }, "Test event queued; see the delivery log.")
                }
              >
                Send test event
              </button>
              <button type="button" class="pa-btn-outline pa-btn-sm" data-testid="webhook-rotate" onClick={() => void rotate(w)}>
                Rotate secret
              </button>
              <button type="button" class="pa-btn-outline pa-btn-danger pa-btn-sm" aria-label={`Delete ${w.url}`} onClick={() => void remove(w)}>
                Delete
              </button>
            </td>
          </tr>
        )}
      </Table>
      {log && <DeliveryLog hook={log} onError={(text) => setNote({ ok: false, text })} />}
      <form class="pa-form-stack" aria-label="Add a webhook" onSubmit={create}>
        <h3>Add a webhook</h3>
        <label>
          URL (https)
          <input
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
          <legend>Events</legend>
          {types.map((t) => (
            <label key={t} class="pa-check">
              <input
                type="checkbox"
                data-testid={"webhook-event-" + t}
                checked={events.includes(t)}
                onChange={(e) => setEvents(e.currentTarget.checked ? [...events, t] : events.filter((x) => x !== t))}
              />
              <span>
                {eventNames[t] ?? t}
                <code class="pa-event-type">{t}</code>
              </span>
            </label>
          ))}
        </fieldset>
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn" data-testid="webhook-create" disabled={events.length === 0}>
            Add webhook
          </button>
        </div>
      </form>
      {confirmation}
    </div>
  );
}

function deliveryState(d: Delivery): string {
  if (d.status === "delivered") return "Delivered";
  if (d.status === "failed") return "Given up";
  return d.attempts > 0 ? "Retrying" : "Queued";
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
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
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
    <section aria-label={`Delivery log of ${hook.url}`} data-testid="delivery-log">
      <h3>
        Delivery log <span class="pa-muted pa-break">{hook.url}</span>
      </h3>
      <Table head={["When", "Event", "Status", "HTTP", "Attempts", "Next retry", "Response", ""]} rows={list} empty="Nothing delivered yet. Send a test event to try the URL.">
        {(d) => (
          <tr key={d.id} data-testid="delivery-row" data-status={d.status} data-event={d.event}>
            <td>
              {when(d.created_at)}
              {d.replay_of && <div class="pa-muted">replay</div>}
            </td>
            <td>{eventNames[d.event] ?? d.event}</td>
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
                  Replay
                </button>
              )}
            </td>
          </tr>
        )}
      </Table>
    </section>
  );
}
