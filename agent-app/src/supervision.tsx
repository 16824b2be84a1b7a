// Supervision (supervisors and admins): every open conversation, the
// queue, and each agent's status and load, read again every few seconds
// (GET /api/supervision). A conversation opens in the usual view, where a
// supervisor reads it and may step in (join); Reassign is the transfer
// route's supervisor reassignment; History lists an agent's status changes.

import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { visitorName } from "./visitor";
import { dateTime, errorText, t, time } from "./i18n";

type SupervisedAgent = {
  id: string;
  name: string;
  role: string;
  status: string;
  capacity: number;
  load: number;
  status_since?: string;
  disabled?: boolean;
};

type View = { agents: SupervisedAgent[]; queue: ConversationInfo[]; open: ConversationInfo[] };

/** refreshEvery is how often the view is read again. */
const refreshEvery = 3000;

export function SupervisionButton(props: { onOpen: () => void }) {
  return (
    <button type="button" class="pa-btn-ghost" data-testid="open-supervision" onClick={props.onOpen}>
      {t("side.supervision")}
    </button>
  );
}

function History({ agent }: { agent: string }) {
  const [changes, setChanges] = useState<{ status: string; at: string }[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<{ changes: { status: string; at: string }[] }>("GET", `/api/agents/${encodeURIComponent(agent)}/status-history`)
      .then((r) => setChanges(r.changes))
      .catch((e) => setError(errorText(e)));
  }, [agent]);
  if (error) return <p class="pa-error">{error}</p>;
  if (!changes) return <p class="pa-muted">{t("common.loading")}</p>;
  if (changes.length === 0) return <p class="pa-muted">{t("sup.noHistory")}</p>;
  return (
    <ol class="pa-sup-history" data-testid="status-history">
      {changes.map((c, i) => (
        <li key={i}>
          <span class={"pa-sup-status pa-sup-" + c.status}>{c.status}</span> {dateTime(c.at)}
        </li>
      ))}
    </ol>
  );
}

export function SupervisionPage(props: { onClose: () => void; onOpen: (info: ConversationInfo) => void }) {
  const [view, setView] = useState<View | null>(null);
  const [error, setError] = useState("");
  const [history, setHistory] = useState<string | null>(null);
  const [target, setTarget] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState("");
  const load = () =>
    api<View>("GET", "/api/supervision")
      .then((v) => {
        setView(v);
        setError("");
      })
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), refreshEvery);
    return () => clearInterval(t);
  }, []);
  const names = new Map((view?.agents ?? []).map((a) => [a.id, a.name]));
  const reassign = (c: ConversationInfo) => {
    const to = target[c.id];
    if (!to) return;
    api("POST", `/api/conversations/${encodeURIComponent(c.id)}/transfer`, { to_agent: to })
      .then(() => {
        setNotice(t("sup.reassigned", { visitor: visitorName(c), agent: names.get(to) ?? t("sup.theAgent") }));
        setTarget({ ...target, [c.id]: "" });
        void load();
      })
      .catch((e) => setError(errorText(e)));
  };
  const row = (c: ConversationInfo, queued: boolean) => (
    <tr key={c.id} data-testid={queued ? "sup-queued" : "sup-open"} data-conversation={c.id}>
      <td>{visitorName(c)}</td>
      <td data-testid="sup-agent">{queued ? <span class="pa-muted">{t("sup.waiting")}</span> : c.agent_name || names.get(c.agent_id ?? "") || "—"}</td>
      <td class="pa-sup-last">{c.last_body ?? ""}</td>
      <td>{time(queued ? c.created_at : c.updated_at)}</td>
      <td class="pa-sup-actions">
        <button type="button" class="pa-link" data-testid="sup-open-conversation" onClick={() => props.onOpen(c)}>
          {t("call.open")}
        </button>
        <select
          aria-label={t("sup.reassignLabel", { visitor: visitorName(c) })}
          data-testid="sup-reassign-to"
          value={target[c.id] ?? ""}
          onChange={(e) => setTarget({ ...target, [c.id]: e.currentTarget.value })}
        >
          <option value="">{t("sup.reassignTo")}</option>
          {(view?.agents ?? [])
            .filter((a) => !a.disabled && a.id !== c.agent_id)
            .map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} ({a.status}, {a.load}/{a.capacity})
              </option>
            ))}
        </select>
        <button type="button" class="pa-btn" data-testid="sup-reassign" disabled={!target[c.id]} onClick={() => reassign(c)}>
          {t("rt.reassign")}
        </button>
      </td>
    </tr>
  );
  return (
    <main class="pa-sup" aria-label={t("side.supervision")}>
      <header class="pa-sup-head">
        <h1>{t("side.supervision")}</h1>
        <span class="pa-muted">{t("sup.live", { s: refreshEvery / 1000 })}</span>
        <button type="button" class="pa-link" data-testid="close-supervision" onClick={props.onClose}>
          {t("sup.back")}
        </button>
      </header>
      {error && (
        <p class="pa-error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p class="pa-sup-notice" role="status" data-testid="sup-notice">
          {notice}
        </p>
      )}
      <section aria-label={t("side.agents")}>
        <h2>{t("side.agents")}</h2>
        <table class="pa-sup-table" data-testid="sup-agents">
          <thead>
            <tr>
              <th>{t("filters.agent")}</th>
              <th>{t("side.status")}</th>
              <th>{t("sup.load")}</th>
              <th>{t("sup.since")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(view?.agents ?? []).map((a) => (
              <Fragment key={a.id}>
                <tr data-testid="sup-agent-row" data-agent={a.id}>
                  <td>
                    {a.name} <span class="pa-muted">{a.role}</span>
                  </td>
                  <td>
                    <span class={"pa-sup-status pa-sup-" + (a.disabled ? "disabled" : a.status)} data-testid="sup-status">
                      {a.disabled ? "disabled" : a.status}
                    </span>
                  </td>
                  <td data-testid="sup-load">
                    {a.load} / {a.capacity}
                  </td>
                  <td>{a.status_since ? time(a.status_since) : "—"}</td>
                  <td>
                    <button type="button" class="pa-link" data-testid="sup-history" onClick={() => setHistory(history === a.id ? null : a.id)}>
                      {history === a.id ? t("sup.hideHistory") : t("sup.history")}
                    </button>
                  </td>
                </tr>
                {history === a.id && (
                  <tr>
                    <td colSpan={5}>
                      <History agent={a.id} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-label={t("inbox.queue")}>
        <h2>
          {t("inbox.queue")} <span class="pa-count">{view?.queue.length ?? 0}</span>
        </h2>
        {view && view.queue.length === 0 ? (
          <p class="pa-empty-line">{t("inbox.queueEmpty")}</p>
        ) : (
          <table class="pa-sup-table">
            <tbody>{(view?.queue ?? []).map((c) => row(c, true))}</tbody>
          </table>
        )}
      </section>
      <section aria-label={t("sup.open")}>
        <h2>
          {t("sup.open")} <span class="pa-count">{view?.open.length ?? 0}</span>
        </h2>
        {view && view.open.length === 0 ? (
          <p class="pa-empty-line">{t("inbox.mineEmpty")}</p>
        ) : (
          <table class="pa-sup-table">
            <thead>
              <tr>
                <th>{t("vp.visitor")}</th>
                <th>{t("filters.agent")}</th>
                <th>{t("sup.lastMessage")}</th>
                <th>{t("sup.updated")}</th>
                <th />
              </tr>
            </thead>
            <tbody>{(view?.open ?? []).map((c) => row(c, false))}</tbody>
          </table>
        )}
      </section>
    </main>
  );
}
