// Sites (admins): the websites that embed the widget. A list with each
// site's embed snippet (Copy), and a form to create or change one: name,
// allowed origins, the widget's look, identity verification, voice calls;
// routing and business hours open the routing settings for that site.
// Saved changes reach the site's open widgets at once (the server pushes
// them).

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { SettingsForm } from "./routing";
import { Dialog, useConfirm } from "./dialog";
import { ProactiveForm } from "./proactive";
import { errorText, t } from "./i18n";

export interface Look {
  title: string;
  greeting: string;
  accent_color: string;
  launcher_position: string;
  show_avatars: boolean;
  /** The widget's language, "" for the visitor's. */
  language: string;
}

/** LANGUAGES the widget speaks (widget/src/i18n.ts), by name. */
const LANGUAGES: [string, string][] = [
  ["en", "English"],
  ["es", "Español"],
  ["fr", "Français"],
  ["de", "Deutsch"],
  ["pt", "Português"],
  ["ar", "العربية"],
];

export interface Site {
  id: string;
  name: string;
  allowed_origins: string[];
  identity_required: boolean;
  identity_secret: string;
  embed_code: string;
  visitor_calls: boolean;
  look: Look;
  prechat_fields: PrechatField[];
  conversion_window_hours: number;
}

/** PrechatField: what the widget asks before a chat. */
export interface PrechatField {
  kind: string;
  label?: string;
  required: boolean;
}

const BUILTIN_FIELDS = ["name", "email", "phone"];

/** fieldsText writes pre-chat fields as the form edits them: one a line,
 * "*" when required. */
function fieldsText(fields: PrechatField[]): string {
  return fields.map((f) => (f.kind === "custom" ? f.label : f.kind) + (f.required ? "*" : "")).join("\n");
}

function parseFields(text: string): PrechatField[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const required = l.endsWith("*");
      const name = l.replace(/\*+$/, "").trim();
      return BUILTIN_FIELDS.includes(name.toLowerCase()) ? { kind: name.toLowerCase(), required } : { kind: "custom", label: name, required };
    });
}

/** copyText puts text on the clipboard; false when the browser refused. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** CopyButton copies text and says so for a moment. */
export function CopyButton({ text, label, testid }: { text: string; label?: string; testid?: string }) {
  const [state, setState] = useState<"" | "copied" | "failed">("");
  useEffect(() => {
    if (!state) return;
    const timer = setTimeout(() => setState(""), 2500);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      class="pa-btn-outline"
      data-testid={testid}
      onClick={async () => setState((await copyText(text)) ? "copied" : "failed")}
    >
      {state === "copied" ? t("sites.copied") : state === "failed" ? t("sites.copyFailed") : (label ?? t("sites.copy"))}
    </button>
  );
}

export function SitesAdmin() {
  const [sites, setSites] = useState<Site[] | null>(null);
  const [editing, setEditing] = useState<Site | "new" | null>(null);
  const [routing, setRouting] = useState<string>("");
  const [proactive, setProactive] = useState<Site | null>(null);
  const [note, setNote] = useState("");
  const [confirmation, ask] = useConfirm();
  const load = () =>
    api<{ sites: Site[] }>("GET", "/api/sites").then(
      (x) => setSites(x.sites),
      (e) => setNote(errorText(e)),
    );
  useEffect(() => void load(), []);
  const remove = async (s: Site) => {
    if (!(await ask(t("sites.deleteQ", { name: s.name }), t("sites.deleteAction")))) return;
    setNote("");
    try {
      await api("DELETE", `/api/sites/${encodeURIComponent(s.id)}`);
      await load();
    } catch (e) {
      setNote(errorText(e));
    }
  };
  if (proactive) return <ProactiveForm site={proactive} onDone={() => setProactive(null)} />;
  if (routing) {
    return (
      <>
        <button type="button" class="pa-btn-ghost" onClick={() => setRouting("")}>
          {t("sites.backArrow")}
        </button>
        <SettingsForm admin site={routing} />
      </>
    );
  }
  if (editing) {
    return (
      <SiteForm
        site={editing === "new" ? null : editing}
        onDone={async (saved) => {
          setEditing(null);
          if (saved) await load();
        }}
      />
    );
  }
  return (
    <div class="pa-sites" data-testid="sites">
      {confirmation}
      <div class="pa-sites-head">
        <p class="pa-muted">{t("sites.help")}</p>
        <button type="button" class="pa-btn" onClick={() => setEditing("new")}>
          {t("sites.add")}
        </button>
      </div>
      {note && <div role="alert">{note}</div>}
      {sites === null ? (
        <p class="pa-muted">{t("common.loading")}</p>
      ) : (
        <ul class="pa-site-list">
          {sites.map((s) => (
            <li class="pa-site" key={s.id} data-testid="site" aria-label={s.name}>
              <div class="pa-site-top">
                <span class="pa-site-swatch" style={{ background: s.look.accent_color || "#2563eb" }} aria-hidden="true" />
                <strong>{s.name}</strong>
                <span class="pa-muted">{s.allowed_origins.join(", ") || t("sites.noOrigins")}</span>
                <span class="pa-site-actions">
                  <button type="button" class="pa-btn-outline" onClick={() => setEditing(s)}>
                    {t("common.edit")}
                  </button>
                  <button type="button" class="pa-btn-outline" onClick={() => setRouting(s.id)}>
                    {t("sites.routing")}
                  </button>
                  <button type="button" class="pa-btn-outline" onClick={() => setProactive(s)}>
                    {t("sites.pages")}
                  </button>
                  <button type="button" class="pa-btn-outline pa-danger" onClick={() => void remove(s)}>
                    {t("canned.delete")}
                  </button>
                </span>
              </div>
              <div class="pa-snippet">
                <span id={`snippet-${s.id}`}>{t("sites.snippet")}</span>
                <span class="pa-snippet-row">
                  <code data-testid="embed-code" dir="ltr" aria-labelledby={`snippet-${s.id}`}>
                    {s.embed_code}
                  </code>
                  <CopyButton text={s.embed_code} testid="copy-snippet" />
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const ORIGIN_HINT = "https://www.example.com";

function SiteForm({ site, onDone }: { site: Site | null; onDone: (saved: boolean) => void }) {
  const [name, setName] = useState(site?.name ?? "");
  const [origins, setOrigins] = useState((site?.allowed_origins ?? []).join("\n"));
  const [look, setLook] = useState<Look>(
    site?.look ?? { title: "", greeting: "", accent_color: "", launcher_position: "right", show_avatars: true, language: "" },
  );
  const [identity, setIdentity] = useState(site?.identity_required ?? false);
  const [calls, setCalls] = useState(site?.visitor_calls ?? false);
  const [fields, setFields] = useState(fieldsText(site?.prechat_fields ?? []));
  const [windowDays, setWindowDays] = useState(String(Math.max(1, Math.round((site?.conversion_window_hours ?? 168) / 24))));
  const [secret, setSecret] = useState(site?.identity_secret ?? "");
  const [note, setNote] = useState("");
  const [confirmation, ask] = useConfirm();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNote("");
    const body = {
      name,
      allowed_origins: origins.split(/[\s,]+/).filter(Boolean),
      identity_required: identity,
      visitor_calls: calls,
      prechat_fields: parseFields(fields),
      conversion_window_hours: Math.round(Number(windowDays) * 24),
      look,
    };
    try {
      if (site) await api("PATCH", `/api/sites/${encodeURIComponent(site.id)}`, body);
      else await api("POST", "/api/sites", body);
      onDone(true);
    } catch (err) {
      setNote(errorText(err));
      setBusy(false);
    }
  };
  const rotate = async () => {
    if (!site || !(await ask(t("sites.rotateQ"), t("sites.rotateAction")))) return;
    try {
      const x = await api<{ site: Site }>("POST", `/api/sites/${encodeURIComponent(site.id)}/secret`);
      setSecret(x.site.identity_secret);
    } catch (err) {
      setNote(errorText(err));
    }
  };
  const heading = site ? t("sites.edit", { name: site.name }) : t("sites.new");
  return (
    <form class="pa-form-grid pa-site-form" onSubmit={submit} aria-label={heading}>
      <h3>{heading}</h3>
      {confirmation}
      <label class="pa-wide">
        {t("vp.name")}
        <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label class="pa-wide">
        {t("sites.origins")}
        <textarea rows={3} dir="ltr" placeholder={ORIGIN_HINT} value={origins} onInput={(e) => setOrigins(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>{t("sites.look")}</legend>
        <label>
          {t("admin.title")}
          <input maxLength={60} placeholder={t("sites.titlePh")} value={look.title} onInput={(e) => setLook({ ...look, title: e.currentTarget.value })} />
        </label>
        <label>
          {t("sites.greeting")}
          <input
            maxLength={300}
            placeholder={t("sites.greetingPh")}
            value={look.greeting}
            onInput={(e) => setLook({ ...look, greeting: e.currentTarget.value })}
          />
        </label>
        <label>
          {t("sites.accent")}
          <span class="pa-color-row">
            <input
              type="color"
              aria-label={t("sites.accentPicker")}
              value={look.accent_color || "#2563eb"}
              onInput={(e) => setLook({ ...look, accent_color: e.currentTarget.value })}
            />
            <input
              aria-label={t("sites.accent")}
              placeholder="#2563eb"
              maxLength={7}
              value={look.accent_color}
              onInput={(e) => setLook({ ...look, accent_color: e.currentTarget.value.trim() })}
            />
          </span>
        </label>
        <label>
          {t("sites.launcher")}
          <select value={look.launcher_position} onChange={(e) => setLook({ ...look, launcher_position: e.currentTarget.value })}>
            <option value="right">{t("sites.right")}</option>
            <option value="left">{t("sites.left")}</option>
          </select>
        </label>
        <label>
          {t("filters.language")}
          <select value={look.language} onChange={(e) => setLook({ ...look, language: e.currentTarget.value })}>
            <option value="">{t("sites.visitorLang")}</option>
            {LANGUAGES.map(([code, name]) => (
              <option value={code}>{name}</option>
            ))}
          </select>
        </label>
        <label class="pa-check">
          <input type="checkbox" checked={look.show_avatars} onChange={(e) => setLook({ ...look, show_avatars: e.currentTarget.checked })} />
          {t("sites.avatars")}
        </label>
      </fieldset>
      <label class="pa-wide">
        {t("sites.prechat")}
        <textarea rows={3} placeholder={"name*\nemail*\n" + t("sites.prechatExample")} value={fields} onInput={(e) => setFields(e.currentTarget.value)} />
      </label>
      <label>
        {t("sites.window")}
        <input type="number" min={1} max={90} required value={windowDays} onInput={(e) => setWindowDays(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>{t("sites.identity")}</legend>
        <label class="pa-check">
          <input type="checkbox" checked={identity} onChange={(e) => setIdentity(e.currentTarget.checked)} />
          {t("sites.requireVerified")}
        </label>
        {site && (
          <div class="pa-snippet pa-wide">
            <span>{t("sites.secret")}</span>
            <span class="pa-snippet-row">
              <code data-testid="identity-secret" dir="ltr">{secret}</code>
              <button type="button" class="pa-btn-outline" onClick={() => void rotate()}>
                {t("sites.rotate")}
              </button>
            </span>
          </div>
        )}
      </fieldset>
      <label class="pa-check">
        <input type="checkbox" checked={calls} onChange={(e) => setCalls(e.currentTarget.checked)} />
        {t("sites.calls")}
      </label>
      {note && (
        <div role="alert" class="pa-error">
          {note}
        </div>
      )}
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn" disabled={busy}>
          {site ? t("common.save") : t("sites.create")}
        </button>
        <button type="button" class="pa-btn-ghost" onClick={() => onDone(false)}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

/** SitesButton opens the Sites screen (admins). */
export function SitesButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="open-sites" onClick={() => setOpen(true)}>
        {t("side.sites")}
      </button>
      {open && (
        <Dialog title={t("side.sites")} onClose={() => setOpen(false)}>
          <SitesAdmin />
        </Dialog>
      )}
    </>
  );
}
