// A site's page trail and proactive messages (admins, from the Sites
// screen): whether the widget reports the pages visitors browse (and
// whether Do-Not-Track stops it), and the triggers that open the chat with
// a message from a named agent or the assistant, at most the site's limit
// per visitor (GET/PUT /api/sites/:id/proactive).

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { type Key, errorText, t } from "./i18n";

interface Trigger {
  id?: string;
  kind: string;
  seconds?: number;
  scroll_percent?: number;
  url_contains?: string;
  message: string;
  agent_id?: string;
}
interface Proactive {
  page_trail: boolean;
  respect_dnt: boolean;
  trigger_limit: number;
  triggers: Trigger[];
}
interface AgentRow {
  id: string;
  name: string;
}

const KINDS: [string, Key][] = [
  ["time", "pro.kind.time"],
  ["url", "pro.kind.url"],
  ["scroll", "pro.kind.scroll"],
  ["exit", "pro.kind.exit"],
  ["returning", "pro.kind.returning"],
];

export function ProactiveForm({ site, onDone }: { site: { id: string; name: string }; onDone: () => void }) {
  const [p, setP] = useState<Proactive | null>(null);
  const [agents, setAgents] = useState<AgentRow[]>([]);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const path = `/api/sites/${encodeURIComponent(site.id)}/proactive`;
  useEffect(() => {
    api<{ proactive: Proactive }>("GET", path).then(
      (x) => setP(x.proactive),
      (e) => setNote({ ok: false, text: errorText(e) }),
    );
    api<{ agents: AgentRow[] }>("GET", "/api/agents").then(
      (x) => setAgents(x.agents),
      () => undefined, // the assistant only
    );
  }, [path]);
  if (!p) return <p class="pa-muted">{note?.text ?? t("common.loading")}</p>;
  const setTrigger = (i: number, patch: Partial<Trigger>) => setP({ ...p, triggers: p.triggers.map((x, j) => (j === i ? { ...x, ...patch } : x)) });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNote(null);
    try {
      const x = await api<{ proactive: Proactive }>("PUT", path, p);
      setP(x.proactive);
      setNote({ ok: true, text: t("admin.saved") });
    } catch (err) {
      setNote({ ok: false, text: errorText(err) });
    }
    setBusy(false);
  };
  return (
    <form class="pa-form-grid pa-site-form" onSubmit={submit} aria-label={t("pro.label", { site: site.name })}>
      <h3>{t("pro.title", { site: site.name })}</h3>
      <fieldset>
        <legend>{t("pro.trail")}</legend>
        <label class="pa-check">
          <input type="checkbox" checked={p.page_trail} onChange={(e) => setP({ ...p, page_trail: e.currentTarget.checked })} />
          {t("pro.trailShow")}
        </label>
        <label class="pa-check">
          <input type="checkbox" checked={p.respect_dnt} onChange={(e) => setP({ ...p, respect_dnt: e.currentTarget.checked })} />
          {t("pro.dnt")}
        </label>
      </fieldset>
      <fieldset class="pa-triggers">
        <legend>{t("pro.messages")}</legend>
        <label>
          {t("pro.limit")}
          <input
            type="number"
            min={0}
            max={20}
            value={p.trigger_limit}
            onInput={(e) => setP({ ...p, trigger_limit: parseInt(e.currentTarget.value, 10) || 0 })}
          />
        </label>
        {p.triggers.map((tr, i) => (
          <div class="pa-trigger" key={tr.id ?? i} role="group" aria-label={t("pro.trigger", { n: i + 1 })}>
            <label>
              {t("notify.when")}
              <select value={tr.kind} onChange={(e) => setTrigger(i, { kind: e.currentTarget.value })}>
                {KINDS.map(([k, label]) => (
                  <option key={k} value={k}>
                    {t(label)}
                  </option>
                ))}
              </select>
            </label>
            {tr.kind === "time" && (
              <label>
                {t("pro.seconds")}
                <input type="number" min={1} max={3600} value={tr.seconds ?? 30} onInput={(e) => setTrigger(i, { seconds: parseInt(e.currentTarget.value, 10) || 0 })} />
              </label>
            )}
            {tr.kind === "scroll" && (
              <label>
                {t("pro.scrolled")}
                <input
                  type="number"
                  min={1}
                  max={100}
                  value={tr.scroll_percent ?? 50}
                  onInput={(e) => setTrigger(i, { scroll_percent: parseInt(e.currentTarget.value, 10) || 0 })}
                />
              </label>
            )}
            <label>
              {t(tr.kind === "url" ? "pro.urlContains" : "pro.urlOptional")}
              <input maxLength={200} dir="ltr" placeholder="/pricing" value={tr.url_contains ?? ""} onInput={(e) => setTrigger(i, { url_contains: e.currentTarget.value })} />
            </label>
            <label>
              {t("pro.from")}
              <select value={tr.agent_id ?? ""} onChange={(e) => setTrigger(i, { agent_id: e.currentTarget.value })}>
                <option value="">{t("pro.assistant")}</option>
                {agents.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            </label>
            <label class="pa-wide">
              {t("search.kind.message")}
              <textarea rows={2} maxLength={500} required value={tr.message} onInput={(e) => setTrigger(i, { message: e.currentTarget.value })} />
            </label>
            <button type="button" class="pa-btn-outline pa-danger" onClick={() => setP({ ...p, triggers: p.triggers.filter((_, j) => j !== i) })}>
              {t("pro.remove", { n: i + 1 })}
            </button>
          </div>
        ))}
        <button
          type="button"
          class="pa-btn-outline"
          disabled={p.triggers.length >= 20}
          onClick={() => setP({ ...p, triggers: [...p.triggers, { kind: "time", seconds: 30, message: "" }] })}
        >
          {t("pro.add")}
        </button>
      </fieldset>
      {note && (
        <div role={note.ok ? "status" : "alert"} class={note.ok ? "pa-muted" : "pa-error"}>
          {note.text}
        </div>
      )}
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn" disabled={busy}>
          {t("common.save")}
        </button>
        <button type="button" class="pa-btn-ghost" onClick={onDone}>
          {t("sites.back")}
        </button>
      </div>
    </form>
  );
}
