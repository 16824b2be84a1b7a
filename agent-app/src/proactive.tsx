// A site's page trail and proactive messages (admins, from the Sites
// screen): whether the widget reports the pages visitors browse (and
// whether Do-Not-Track stops it), and the triggers that open the chat with
// a message from a named agent or the assistant, at most the site's limit
// per visitor (GET/PUT /api/sites/:id/proactive).

import { useEffect, useState } from "preact/hooks";
import { api, errorMessage as message } from "@parley/shared/http";

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

const KINDS: [string, string][] = [
  ["time", "After some seconds on a page"],
  ["url", "On a page whose address contains…"],
  ["scroll", "On scrolling down a page"],
  ["exit", "When the visitor is about to leave"],
  ["returning", "For a returning visitor"],
];

export function ProactiveForm({ site, onDone }: { site: { id: string; name: string }; onDone: () => void }) {
  const [p, setP] = useState<Proactive | null>(null);
  const [agents, setAgents] = useState<AgentRow[]>([]);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const path = `/api/sites/${encodeURIComponent(site.id)}/proactive`;
  useEffect(() => {
    api<{ proactive: Proactive }>("GET", path).then(
      (x) => setP(x.proactive),
      (e) => setNote(message(e)),
    );
    api<{ agents: AgentRow[] }>("GET", "/api/agents").then(
      (x) => setAgents(x.agents),
      () => undefined, // the assistant only
    );
  }, [path]);
  if (!p) return <p class="pa-muted">{note || "Loading…"}</p>;
  const setTrigger = (i: number, t: Partial<Trigger>) => setP({ ...p, triggers: p.triggers.map((x, j) => (j === i ? { ...x, ...t } : x)) });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNote("");
    try {
      const x = await api<{ proactive: Proactive }>("PUT", path, p);
      setP(x.proactive);
      setNote("Saved.");
    } catch (err) {
      setNote(message(err));
    }
    setBusy(false);
  };
  return (
    <form class="pa-form-grid pa-site-form" onSubmit={submit} aria-label={`Page trail and proactive messages of ${site.name}`}>
      <h3>Page trail and proactive messages · {site.name}</h3>
      <fieldset>
        <legend>Page trail</legend>
        <label class="pa-check">
          <input type="checkbox" checked={p.page_trail} onChange={(e) => setP({ ...p, page_trail: e.currentTarget.checked })} />
          Show agents the pages visitors browse (address, title, referrer, campaign, time on page)
        </label>
        <label class="pa-check">
          <input type="checkbox" checked={p.respect_dnt} onChange={(e) => setP({ ...p, respect_dnt: e.currentTarget.checked })} />
          Not for browsers that ask not to be tracked (Do Not Track)
        </label>
      </fieldset>
      <fieldset class="pa-triggers">
        <legend>Proactive messages</legend>
        <label>
          At most this many per visitor
          <input
            type="number"
            min={0}
            max={20}
            value={p.trigger_limit}
            onInput={(e) => setP({ ...p, trigger_limit: parseInt(e.currentTarget.value, 10) || 0 })}
          />
        </label>
        {p.triggers.map((t, i) => (
          <div class="pa-trigger" key={t.id ?? i} role="group" aria-label={`Trigger ${i + 1}`}>
            <label>
              When
              <select value={t.kind} onChange={(e) => setTrigger(i, { kind: e.currentTarget.value })}>
                {KINDS.map(([k, label]) => (
                  <option key={k} value={k}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            {t.kind === "time" && (
              <label>
                Seconds on the page
                <input type="number" min={1} max={3600} value={t.seconds ?? 30} onInput={(e) => setTrigger(i, { seconds: parseInt(e.currentTarget.value, 10) || 0 })} />
              </label>
            )}
            {t.kind === "scroll" && (
              <label>
                Scrolled down (%)
                <input
                  type="number"
                  min={1}
                  max={100}
                  value={t.scroll_percent ?? 50}
                  onInput={(e) => setTrigger(i, { scroll_percent: parseInt(e.currentTarget.value, 10) || 0 })}
                />
              </label>
            )}
            <label>
              {t.kind === "url" ? "Page address contains" : "Only on pages whose address contains (optional)"}
              <input maxLength={200} placeholder="/pricing" value={t.url_contains ?? ""} onInput={(e) => setTrigger(i, { url_contains: e.currentTarget.value })} />
            </label>
            <label>
              From
              <select value={t.agent_id ?? ""} onChange={(e) => setTrigger(i, { agent_id: e.currentTarget.value })}>
                <option value="">The assistant</option>
                {agents.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            </label>
            <label class="pa-wide">
              Message
              <textarea rows={2} maxLength={500} required value={t.message} onInput={(e) => setTrigger(i, { message: e.currentTarget.value })} />
            </label>
            <button type="button" class="pa-btn-outline pa-danger" onClick={() => setP({ ...p, triggers: p.triggers.filter((_, j) => j !== i) })}>
              Remove trigger {i + 1}
            </button>
          </div>
        ))}
        <button
          type="button"
          class="pa-btn-outline"
          disabled={p.triggers.length >= 20}
          onClick={() => setP({ ...p, triggers: [...p.triggers, { kind: "time", seconds: 30, message: "" }] })}
        >
          Add a trigger
        </button>
      </fieldset>
      {note && (
        <div role={note === "Saved." ? "status" : "alert"} class={note === "Saved." ? "pa-muted" : "pa-error"}>
          {note}
        </div>
      )}
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn" disabled={busy}>
          Save
        </button>
        <button type="button" class="pa-btn-ghost" onClick={onDone}>
          Back to sites
        </button>
      </div>
    </form>
  );
}
