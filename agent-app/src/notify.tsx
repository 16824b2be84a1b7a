// Notifications: a desktop notification and a sound for a conversation
// newly assigned to this agent, a note that mentions them, and a
// visitor's message in their conversation while the dashboard's tab is
// hidden. They come from the live connection, which stays up in a
// background tab. What to notify is the agent's choice, kept on the server
// (/api/me/notifications); the browser's permission is asked only when
// the agent turns desktop notifications on in the settings.

import { useEffect, useState } from "preact/hooks";
import type { LiveClient } from "@parley/shared/client";
import { api } from "@parley/shared/http";
import { Dialog } from "./dialog";
import { type Key, errorText, t } from "./i18n";

export interface NotifyPrefs {
  desktop: boolean;
  sound: boolean;
  assigned: boolean;
  mentions: boolean;
  messages: boolean;
}

type Kind = "assigned" | "mentions" | "messages";

const hasNotifications = typeof Notification !== "undefined";

// The sound is made, not downloaded: a short two-tone chime. Browsers let
// a page play sound once the person has interacted with it, so the audio
// context is made on the first click or key.
let audio: AudioContext | null = null;
function unlockAudio() {
  if (!audio && typeof AudioContext !== "undefined") audio = new AudioContext();
  void audio?.resume();
}
addEventListener("pointerdown", unlockAudio, { once: true });
addEventListener("keydown", unlockAudio, { once: true });

function chime() {
  if (!audio) return;
  const t = audio.currentTime;
  for (const [i, f] of [880, 1320].entries()) {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, t + i * 0.12);
    g.gain.exponentialRampToValueAtTime(0.2, t + i * 0.12 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.12 + 0.25);
    o.connect(g).connect(audio.destination);
    o.start(t + i * 0.12);
    o.stop(t + i * 0.12 + 0.3);
  }
  (window as unknown as { parleyChimes?: number }).parleyChimes = ((window as unknown as { parleyChimes?: number }).parleyChimes ?? 0) + 1;
}

/** useNotifications notifies this agent of their events while mounted,
 * and returns the preferences and a setter that saves them. */
export function useNotifications(client: LiveClient, self: string, open: (conversation: string) => void) {
  const [prefs, setPrefs] = useState<NotifyPrefs | null>(null);
  useEffect(() => {
    api<{ notifications: NotifyPrefs }>("GET", "/api/me/notifications")
      .then((r) => setPrefs(r.notifications))
      .catch(() => setPrefs(null));
  }, [self]);
  useEffect(() => {
    if (!prefs) return;
    // Who had each conversation, to tell a new assignment from an update.
    const owner = new Map<string, string | undefined>();
    for (const [id, c] of client.conversations) owner.set(id, c.info.agent_id);
    const notify = (kind: Kind, title: string, body: string, conversation: string) => {
      if (!prefs[kind]) return;
      if (prefs.sound) chime();
      if (prefs.desktop && hasNotifications && Notification.permission === "granted") {
        const n = new Notification(title, { body: body.slice(0, 200), tag: `${kind}:${conversation}` });
        n.onclick = () => {
          focus();
          open(conversation);
          n.close();
        };
      }
    };
    return client.listen((f) => {
      if (f.type === "conversation") {
        const info = f.conversation;
        const before = owner.get(info.id);
        owner.set(info.id, info.agent_id);
        if (info.status === "open" && info.agent_id === self && before !== self) {
          notify("assigned", t("notify.assigned"), info.visitor_name || t("notify.waiting"), info.id);
        }
      } else if (f.type === "note") {
        const n = f.note;
        if (n.mentions.includes(self) && n.author.id !== self) notify("mentions", t("notify.mentioned", { name: n.author.name }), n.body, n.conversation);
      } else if (f.type === "message") {
        const mine = client.conversations.get(f.conversation)?.info.agent_id === self;
        if (mine && f.author.kind === "visitor" && document.visibilityState === "hidden") {
          notify("messages", f.author.name ? t("notify.messageFrom", { name: f.author.name }) : t("notify.messageVisitor"), f.body, f.conversation);
        }
      }
    });
  }, [client, self, prefs]);
  const save = async (next: NotifyPrefs) => {
    setPrefs(next);
    const r = await api<{ notifications: NotifyPrefs }>("PUT", "/api/me/notifications", next);
    setPrefs(r.notifications);
  };
  return [prefs, save] as const;
}

/** NotifyButton opens the notification settings. */
export function NotifyButton({ prefs, save }: { prefs: NotifyPrefs | null; save: (p: NotifyPrefs) => Promise<void> }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="notify-open" disabled={!prefs} onClick={() => setOpen(true)}>
        {t("side.notifications")}
      </button>
      {open && prefs && <NotifySettings prefs={prefs} save={save} onClose={() => setOpen(false)} />}
    </>
  );
}

function NotifySettings({ prefs, save, onClose }: { prefs: NotifyPrefs; save: (p: NotifyPrefs) => Promise<void>; onClose: () => void }) {
  const [error, setError] = useState("");
  const [permission, setPermission] = useState(hasNotifications ? Notification.permission : "unsupported");
  const change = async (p: Partial<NotifyPrefs>) => {
    setError("");
    const next = { ...prefs, ...p };
    if (p.desktop && hasNotifications && Notification.permission !== "granted") {
      // Asked here, from the agent's own click, never on load.
      const got = await Notification.requestPermission();
      setPermission(got);
      if (got !== "granted") next.desktop = false;
    }
    try {
      await save(next);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const box = (key: keyof NotifyPrefs, label: Key) => (
    <label class="pa-check">
      <input type="checkbox" checked={prefs[key]} onChange={(e) => void change({ [key]: e.currentTarget.checked })} />
      {t(label)}
    </label>
  );
  return (
    <Dialog title={t("side.notifications")} onClose={onClose}>
      <div class="pa-form-stack" role="group" aria-label={t("notify.how")}>
        <h3>{t("notify.how")}</h3>
        {box("desktop", "notify.desktop")}
        {permission === "denied" && (
          <p class="pa-error">{t("notify.denied")}</p>
        )}
        {permission === "unsupported" && <p class="pa-muted">{t("notify.unsupported")}</p>}
        {box("sound", "notify.sound")}
      </div>
      <div class="pa-form-stack" role="group" aria-label={t("notify.when")}>
        <h3>{t("notify.when")}</h3>
        {box("assigned", "notify.onAssigned")}
        {box("mentions", "notify.onMention")}
        {box("messages", "notify.onMessage")}
      </div>
      {error && (
        <p class="pa-error" role="alert">
          {error}
        </p>
      )}
      <p class="pa-muted">{t("notify.saved")}</p>
    </Dialog>
  );
}
