// First run: a short checklist for a workspace's admins until they dismiss
// it. Each item ticks itself from what it checks: the snippet copied or
// the demo page opened (remembered in this browser), an invite made or a
// teammate added, the admin's own languages or skills set, a conversation
// seen.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { LiveClient } from "@parley/shared/client";
import { api } from "@parley/shared/http";
import { AgentProfile, usePoll } from "./routing";
import { Site, copyText } from "./sites";
import { errorText, t } from "./i18n";

function remembered(key: string): boolean {
  try {
    return localStorage.getItem(key) === "1";
  } catch {
    return false;
  }
}

function remember(key: string): void {
  try {
    localStorage.setItem(key, "1");
  } catch {
    // Kept for this page's life only.
  }
}

function list(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** FirstRun shows the checklist to admins who have not dismissed it, and
 * children otherwise. */
export function FirstRun({ agent, role, client, children }: { agent: string; role: string; client: LiveClient; children: ComponentChildren }) {
  const key = `parley:firstrun:${agent}`;
  const [dismissed, setDismissed] = useState(() => role !== "admin" || remembered(key + ":dismissed"));
  if (dismissed) return <>{children}</>;
  return (
    <Checklist
      storeKey={key}
      client={client}
      onDismiss={() => {
        remember(key + ":dismissed");
        setDismissed(true);
      }}
    />
  );
}

function Checklist({ storeKey, client, onDismiss }: { storeKey: string; client: LiveClient; onDismiss: () => void }) {
  const [installed, setInstalled] = useState(() => remembered(storeKey + ":installed"));
  const [sites] = usePoll(() => api<{ sites: Site[] }>("GET", "/api/sites").then((r) => r.sites), 60000);
  const [team, reloadTeam] = usePoll(
    () =>
      Promise.all([
        api<{ invites: unknown[] }>("GET", "/api/invites").then((r) => r.invites.length),
        api<{ agents: unknown[] }>("GET", "/api/agents").then((r) => r.agents.length),
      ]).then(([invites, agents]) => invites > 0 || agents > 1),
    10000,
  );
  const [me, reloadMe] = usePoll(() => api<{ agent: AgentProfile }>("GET", "/api/agents/me").then((r) => r.agent), 60000);
  const profiled = !!me && me.languages.length + me.skills.length > 0;
  const chatted = client.conversations.size > 0;
  const markInstalled = () => {
    remember(storeKey + ":installed");
    setInstalled(true);
  };
  const snippet = sites?.[0]?.embed_code ?? "";
  const done = [installed, !!team, profiled, chatted];
  const left = done.filter((d) => !d).length;

  return (
    <section class="pa-firstrun pa-card" aria-labelledby="firstrun-title">
      <div class="pa-firstrun-head">
        <h2 id="firstrun-title">{left ? t("start.getStarted") : t("start.allSet")}</h2>
        <span class="pa-muted">{left ? t("start.progress", { done: 4 - left, total: 4 }) : t("start.reachable")}</span>
        <button type="button" class="pa-btn-outline pa-firstrun-dismiss" onClick={onDismiss}>
          {t("common.dismiss")}
        </button>
      </div>
      <ol class="pa-firstrun-list">
        <Item done={installed} title={t("start.install")}>
          <p>{t("start.installText")}</p>
          <span class="pa-firstrun-actions">
            <button
              type="button"
              class="pa-btn-outline"
              disabled={!snippet}
              onClick={async () => (await copyText(snippet)) && markInstalled()}
            >
              {t("start.copySnippet")}
            </button>
            <a class="pa-btn-outline" href="/demo" target="_blank" rel="noopener" onClick={markInstalled}>
              {t("start.openDemo")}
            </a>
          </span>
        </Item>
        <Item done={!!team} title={t("start.invite")}>
          <Reveal label={t("start.inviteSomeone")}>
            <Invite onInvited={reloadTeam} />
          </Reveal>
        </Item>
        <Item done={profiled} title={t("start.profile")}>
          <p>{t("start.profileText")}</p>
          <Reveal label={t("start.setNow")}>
            <Profile me={me} onSaved={reloadMe} />
          </Reveal>
        </Item>
        <Item done={chatted} title={t("start.test")}>
          <p>
            {t("start.testBefore")}{" "}
            <a href="/demo" target="_blank" rel="noopener">
              {t("start.demoPage")}
            </a>
            {t("start.testAfter")}
          </p>
        </Item>
      </ol>
    </section>
  );
}

function Item({ done, title, children }: { done: boolean; title: string; children: ComponentChildren }) {
  return (
    <li class={"pa-firstrun-item" + (done ? " pa-firstrun-done" : "")} aria-label={title} data-done={done ? "true" : "false"}>
      <span class="pa-firstrun-tick" aria-hidden="true">
        {done ? "✓" : ""}
      </span>
      <div class="pa-firstrun-body">
        <strong>
          {title}
          <span class="pa-sr">{done ? " (done)" : " (to do)"}</span>
        </strong>
        {!done && children}
      </div>
    </li>
  );
}

/** Reveal shows its form once asked: closed, the checklist holds no
 * fields that a dialog over it would share names with. */
function Reveal({ label, children }: { label: string; children: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  if (open) return <>{children}</>;
  return (
    <span class="pa-firstrun-actions">
      <button type="button" class="pa-btn-outline" onClick={() => setOpen(true)}>
        {label}
      </button>
    </span>
  );
}

function Invite({ onInvited }: { onInvited: () => void }) {
  const [email, setEmail] = useState("");
  const [link, setLink] = useState("");
  const [note, setNote] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setNote("");
    try {
      const r = await api<{ link: string }>("POST", "/api/invites", { email: email.trim(), role: "agent" });
      setLink(r.link);
      setNote((await copyText(r.link)) ? t("start.linkCopied") : t("start.copyLink"));
      onInvited();
    } catch (err) {
      setNote(errorText(err));
    }
  };
  return (
    <form class="pa-firstrun-actions" onSubmit={submit}>
      <label>
        {t("start.teammateEmail")}
        <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <button type="submit" class="pa-btn-outline">
        {t("start.copyInvite")}
      </button>
      {note && <span role="status">{note}</span>}
      {link && <code class="pa-firstrun-link">{link}</code>}
    </form>
  );
}

function Profile({ me, onSaved }: { me: AgentProfile | null; onSaved: () => void }) {
  const [languages, setLanguages] = useState("");
  const [skills, setSkills] = useState("");
  const [note, setNote] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!me) return;
    setNote("");
    try {
      await api("PATCH", `/api/agents/${encodeURIComponent(me.id)}`, { languages: list(languages), skills: list(skills) });
      onSaved();
    } catch (err) {
      setNote(errorText(err));
    }
  };
  return (
    <form class="pa-firstrun-actions" onSubmit={submit}>
      <label>
        {t("start.languages")}
        <input placeholder="en, fr" value={languages} onInput={(e) => setLanguages(e.currentTarget.value)} />
      </label>
      <label>
        {t("start.skills")}
        <input placeholder="billing, sales" value={skills} onInput={(e) => setSkills(e.currentTarget.value)} />
      </label>
      <button type="submit" class="pa-btn-outline" disabled={!me}>
        {t("start.saveProfile")}
      </button>
      {note && <span role="alert">{note}</span>}
    </form>
  );
}
