// Inbox views beside the live inbox: mine, unassigned, team and (for
// supervisors and admins) all, each with filters and a live count, paged
// from the server (/api/inbox) so history of any age is there; the
// conversation's inbox state (open, pending, snoozed until a time,
// resolved) and its tags.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { AgentClient } from "@parley/shared/agentclient";
import { initials } from "@parley/shared/format";
import { api } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { visitorName } from "./visitor";
import { type Key, errorText, t, time } from "./i18n";

export interface Tag {
  id: string;
  name: string;
  color?: string;
}

type InboxItem = ConversationInfo & { tags: Tag[] };

const VIEWS: { id: string; label: Key }[] = [
  { id: "mine", label: "views.mine" },
  { id: "unassigned", label: "views.unassigned" },
  { id: "team", label: "views.team" },
  { id: "all", label: "views.all" },
];

interface Filters {
  status: string;
  site: string;
  tag: string;
  language: string;
  agent: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { status: "open", site: "", tag: "", language: "", agent: "", from: "", to: "" };

function query(f: Filters): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  return q.toString();
}

/** useDebouncedVersion turns the live client's changes into a slower
 * tick: lists and counts are fetched again at most every 400 ms. */
function useLiveTick(client: AgentClient): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: number | undefined;
    let last = "";
    const off = client.subscribe(() => {
      // Only a change of some conversation's state moves lists and counts
      // (not each message or typing).
      const sig = [...client.conversations.values()]
        .map((c) => `${c.info.id}:${c.info.status}:${c.info.state ?? ""}:${c.info.agent_id ?? ""}:${c.info.last_seq}`)
        .join(",");
      if (sig === last) return;
      last = sig;
      clearTimeout(timer);
      timer = setTimeout(() => setTick((t) => t + 1), 400) as unknown as number;
    });
    return () => {
      clearTimeout(timer);
      off();
    };
  }, [client]);
  return tick;
}

/** InboxViews shows the view tabs with their counts; "Inbox" is the live
 * inbox (children), the others a filtered server list. */
export function InboxViews(props: {
  role: string;
  client: AgentClient;
  selected: string | null;
  onSelect: (id: string) => void;
  children: ComponentChildren;
}) {
  const { role, client, selected, onSelect, children } = props;
  const supervisor = role === "admin" || role === "supervisor";
  const views = VIEWS.filter((v) => v.id !== "all" || supervisor);
  const [view, setView] = useState<string>("inbox");
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [counts, setCounts] = useState<Record<string, number>>({});
  const tick = useLiveTick(client);
  const tags = useTags(tick);
  const [sites, setSites] = useState<{ id: string; name: string }[]>([]);
  const [agents, setAgents] = useState<{ id: string; name: string }[]>([]);
  useEffect(() => {
    if (supervisor) void api<{ sites: { id: string; name: string }[] }>("GET", "/api/sites").then((r) => setSites(r.sites), () => {});
    void api<{ agents: { id: string; name: string }[] }>("GET", "/api/agents").then((r) => setAgents(r.agents ?? []), () => {});
  }, [supervisor]);
  useEffect(() => {
    void api<{ counts: Record<string, number> }>("GET", "/api/inbox/counts?" + query(filters)).then(
      (r) => setCounts(r.counts),
      () => {},
    );
  }, [tick, query(filters)]);

  const set = (k: keyof Filters, v: string) => setFilters({ ...filters, [k]: v });
  return (
    <>
      <div class="pa-views" role="tablist" aria-label={t("views.label")}>
        <button type="button" role="tab" aria-selected={view === "inbox"} class="pa-view" onClick={() => setView("inbox")}>
          {t("views.live")}
        </button>
        {views.map((v) => (
          <button
            key={v.id}
            type="button"
            role="tab"
            data-testid={"view-" + v.id}
            aria-selected={view === v.id}
            class="pa-view"
            onClick={() => setView(v.id)}
          >
            {t(v.label)}
            <span class="pa-count" data-testid={"count-" + v.id}>
              {counts[v.id] ?? "…"}
            </span>
          </button>
        ))}
      </div>
      {view === "inbox" ? (
        <div class="pa-inbox-scroll">{children}</div>
      ) : (
        <>
          <div class="pa-filters" aria-label={t("filters.label")}>
            <select aria-label={t("filters.status")} data-testid="filter-status" value={filters.status} onChange={(e) => set("status", e.currentTarget.value)}>
              <option value="open">{t("state.open")}</option>
              <option value="pending">{t("state.pending")}</option>
              <option value="snoozed">{t("state.snoozed")}</option>
              <option value="resolved">{t("state.resolved")}</option>
              <option value="">{t("filters.anyStatus")}</option>
            </select>
            <select aria-label={t("filters.tag")} data-testid="filter-tag" value={filters.tag} onChange={(e) => set("tag", e.currentTarget.value)}>
              <option value="">{t("filters.anyTag")}</option>
              {tags.map((tag) => (
                <option key={tag.id} value={tag.id}>
                  {tag.name}
                </option>
              ))}
            </select>
            {sites.length > 1 && (
              <select aria-label={t("filters.site")} value={filters.site} onChange={(e) => set("site", e.currentTarget.value)}>
                <option value="">{t("filters.anySite")}</option>
                {sites.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            )}
            <select aria-label={t("filters.agent")} data-testid="filter-agent" value={filters.agent} onChange={(e) => set("agent", e.currentTarget.value)}>
              <option value="">{t("filters.anyAgent")}</option>
              {agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
            <input
              aria-label={t("filters.language")}
              placeholder={t("filters.language")}
              data-testid="filter-language"
              value={filters.language}
              size={8}
              onChange={(e) => set("language", e.currentTarget.value.trim())}
            />
            <label class="pa-filter-date">
              {t("filters.from")}
              <input type="date" value={filters.from} onChange={(e) => set("from", e.currentTarget.value)} />
            </label>
            <label class="pa-filter-date">
              {t("filters.to")}
              <input type="date" value={filters.to} onChange={(e) => set("to", e.currentTarget.value)} />
            </label>
          </div>
          <ServerList
            key={view + "?" + query(filters)}
            view={view}
            filters={filters}
            tick={tick}
            selected={selected}
            onSelect={(c) => {
              // A conversation the live inbox does not hold (another
              // agent's, or an old one): the client loads it.
              client.adopt(c);
              onSelect(c.id);
            }}
          />
        </>
      )}
    </>
  );
}

function ServerList(props: { view: string; filters: Filters; tick: number; selected: string | null; onSelect: (c: InboxItem) => void }) {
  const { view, filters, tick, selected, onSelect } = props;
  const [items, setItems] = useState<InboxItem[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const pages = useRef(1);
  const load = async (cursor: string, append: boolean) => {
    try {
      const r = await api<{ conversations: InboxItem[]; next_cursor: string }>(
        "GET",
        `/api/inbox?view=${view}&${query(filters)}${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`,
      );
      setItems((cur) => (append && cur ? [...cur, ...r.conversations] : r.conversations));
      setNext(r.next_cursor);
      setError("");
    } catch (e) {
      setError(errorText(e));
    }
  };
  // A live change reloads the first page (pages loaded further stay
  // until the view changes).
  useEffect(() => {
    if (pages.current === 1) void load("", false);
  }, [tick]);
  if (error) return <p class="pa-empty-line" role="alert">{error}</p>;
  if (!items) return <p class="pa-empty-line">{t("common.loading")}</p>;
  return (
    <div class="pa-inbox-scroll" data-testid="view-list" data-view={view}>
      {items.length === 0 ? (
        <p class="pa-empty-line">{t("views.empty")}</p>
      ) : (
        <ul class="pa-list">
          {items.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                class={"pa-item" + (c.id === selected ? " pa-item-selected" : "")}
                data-testid="view-item"
                data-conversation={c.id}
                data-state={c.status === "closed" ? "resolved" : c.state || "open"}
                aria-current={c.id === selected ? "true" : undefined}
                onClick={() => onSelect(c)}
              >
                <span class="pa-avatar pa-avatar-visitor" aria-hidden="true">
                  {initials(visitorName(c))}
                </span>
                <span class="pa-item-body">
                  <span class="pa-item-top">
                    <span class="pa-item-name" dir="auto">{visitorName(c)}</span>
                    <span class="pa-item-time">{time(c.updated_at)}</span>
                  </span>
                  <span class="pa-item-bottom">
                    <span class="pa-item-preview" dir="auto">{c.last_body || t("common.noMessagesYet")}</span>
                  </span>
                  <span class="pa-item-meta">
                    <StatePill info={c} />
                    {c.agent_name && <span class="pa-item-agent">{c.agent_name}</span>}
                    {c.tags.map((tag) => (
                      <span key={tag.id} class="pa-tag" style={tag.color ? { borderColor: tag.color } : undefined}>
                        {tag.name}
                      </span>
                    ))}
                  </span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {next && (
        <button
          type="button"
          class="pa-link pa-more"
          onClick={() => {
            pages.current++;
            void load(next, true);
          }}
        >
          {t("views.older")}
        </button>
      )}
    </div>
  );
}

/** StatePill names a conversation's inbox state. */
export function StatePill({ info }: { info: ConversationInfo }) {
  if (info.status === "closed") return <span class="pa-pill pa-pill-closed">{t("state.resolved")}</span>;
  if (info.state === "pending") return <span class="pa-pill pa-pill-pending" data-testid="state-pill">{t("state.pending")}</span>;
  if (info.state === "snoozed")
    return (
      <span class="pa-pill pa-pill-snoozed" data-testid="state-pill">
        {info.snoozed_until ? t("state.snoozedUntil", { time: time(info.snoozed_until) }) : t("state.snoozed")}
      </span>
    );
  return null;
}

function useTags(tick: number): Tag[] {
  const [tags, setTags] = useState<Tag[]>([]);
  useEffect(() => {
    void api<{ tags: Tag[] }>("GET", "/api/tags").then((r) => setTags(r.tags), () => {});
  }, [tick]);
  return tags;
}

function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** StateActions: mark pending, snooze until a time, open again. Resolving
 * is the conversation's Close. */
export function StateActions({ info, canAct }: { info: ConversationInfo; canAct: boolean }) {
  const [snoozing, setSnoozing] = useState(false);
  const [until, setUntil] = useState(() => localInput(new Date(Date.now() + 3600_000)));
  const [error, setError] = useState("");
  if (!canAct || info.status === "closed") return null;
  const set = async (state: string, at?: Date) => {
    try {
      await api("POST", `/api/conversations/${encodeURIComponent(info.id)}/state`, { state, until: at?.toISOString() });
      setSnoozing(false);
      setError("");
    } catch (e) {
      setError(errorText(e));
    }
  };
  const state = info.state ?? "";
  return (
    <div class="pa-state-actions">
      {state !== "" && (
        <button type="button" class="pa-btn-outline" data-testid="state-open" onClick={() => void set("open")}>
          {t("state.reopen")}
        </button>
      )}
      {state !== "pending" && (
        <button type="button" class="pa-btn-outline" data-testid="state-pending" title={t("state.pendingTitle")} onClick={() => void set("pending")}>
          {t("state.pending")}
        </button>
      )}
      <button type="button" class="pa-btn-outline" data-testid="snooze" aria-expanded={snoozing} onClick={() => setSnoozing(!snoozing)}>
        {t("state.snooze")}
      </button>
      {snoozing && (
        <div class="pa-snooze" role="group" aria-label={t("state.snoozeUntil")}>
          <button type="button" class="pa-link" onClick={() => void set("snoozed", new Date(Date.now() + 3600_000))}>
            {t("state.oneHour")}
          </button>
          <button
            type="button"
            class="pa-link"
            onClick={() => {
              const d = new Date();
              d.setDate(d.getDate() + 1);
              d.setHours(9, 0, 0, 0);
              void set("snoozed", d);
            }}
          >
            {t("state.tomorrow")}
          </button>
          <label>
            {t("state.until")}
            <input type="datetime-local" step={1} data-testid="snooze-until" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
          </label>
          <button type="button" class="pa-btn" data-testid="snooze-confirm" onClick={() => void set("snoozed", new Date(until))}>
            {t("state.snooze")}
          </button>
        </div>
      )}
      {error && (
        <span class="pa-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/** TagEditor shows a conversation's tags; any agent adds or removes one,
 * supervisors and admins also make new ones. */
export function TagEditor({ conversation, role }: { conversation: string; role: string }) {
  const [tags, setTags] = useState<Tag[]>([]);
  const [all, setAll] = useState<Tag[]>([]);
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const supervisor = role === "admin" || role === "supervisor";
  const path = `/api/conversations/${encodeURIComponent(conversation)}/tags`;
  useEffect(() => {
    void api<{ tags: Tag[] }>("GET", path).then((r) => setTags(r.tags), () => {});
    void api<{ tags: Tag[] }>("GET", "/api/tags").then((r) => setAll(r.tags), () => {});
  }, [conversation]);
  const put = async (ids: string[]) => {
    try {
      setTags((await api<{ tags: Tag[] }>("PUT", path, { tags: ids })).tags);
      setError("");
    } catch (e) {
      setError(errorText(e));
    }
  };
  const add = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    let tag = all.find((x) => x.name.toLowerCase() === n.toLowerCase());
    if (!tag && supervisor) {
      try {
        tag = (await api<{ tag: Tag }>("POST", "/api/tags", { name: n })).tag;
        setAll([...all, tag]);
      } catch (err) {
        setError(errorText(err));
        return;
      }
    }
    if (!tag) {
      setError(t("tags.none", { name: n }));
      return;
    }
    setName("");
    if (!tags.some((x) => x.id === tag!.id)) await put([...tags.map((x) => x.id), tag.id]);
  };
  return (
    <div class="pa-tags" data-testid="conversation-tags">
      {tags.map((tag) => (
        <span key={tag.id} class="pa-tag" data-testid="tag" style={tag.color ? { borderColor: tag.color } : undefined}>
          {tag.name}
          <button
            type="button"
            class="pa-tag-x"
            aria-label={t("tags.remove", { name: tag.name })}
            onClick={() => void put(tags.filter((x) => x.id !== tag.id).map((x) => x.id))}
          >
            ×
          </button>
        </span>
      ))}
      <form class="pa-tag-add" onSubmit={add}>
        <input
          list={"tags-" + conversation}
          aria-label={t("tags.add")}
          placeholder={t("tags.addShort")}
          data-testid="tag-input"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <datalist id={"tags-" + conversation}>
          {all.map((tag) => (
            <option key={tag.id} value={tag.name} />
          ))}
        </datalist>
      </form>
      {error && (
        <span class="pa-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
