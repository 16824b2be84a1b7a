// Knowledge (admins write, supervisors read): a site's help articles
// (title, Markdown body, tags, language, published or draft), imported
// from Markdown or HTML files, the link to the site's public help page,
// the site's assistant: when it answers and with which provider, and its
// auto-translation provider (translation.tsx). The
// server (pkg/service/http_knowledge.go) indexes each change at once; the
// provider's API key is write-only (the server says only whether one is
// stored).

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { Dialog, useConfirm } from "./dialog";
import { TranslationSettings } from "./translation";
import { type Key, dateTime, errorText, t, tn } from "./i18n";

interface Site {
  id: string;
  name: string;
}

interface Article {
  id: string;
  site_id: string;
  title: string;
  body: string;
  tags: string[];
  language: string;
  published: boolean;
  url: string;
  updated_at: string;
}

interface Assistant {
  mode: "off" | "first" | "fallback";
  provider: "builtin" | "openai";
  url: string;
  model: string;
  key_set: boolean;
}

type Note = { ok: boolean; text: string } | null;

export function KnowledgeButton({ role }: { role: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="open-knowledge" onClick={() => setOpen(true)}>
        {t("side.knowledge")}
      </button>
      {open && (
        <Dialog title={t("kb.dialog")} wide onClose={() => setOpen(false)}>
          <Knowledge admin={role === "admin"} />
        </Dialog>
      )}
    </>
  );
}

function Knowledge({ admin }: { admin: boolean }) {
  const [sites, setSites] = useState<Site[] | null>(null);
  const [site, setSite] = useState("");
  const [note, setNote] = useState<Note>(null);
  useEffect(() => {
    api<{ sites: Site[] }>("GET", "/api/sites").then(
      (x) => {
        setSites(x.sites);
        setSite(x.sites[0]?.id ?? "");
      },
      (e) => setNote({ ok: false, text: errorText(e) }),
    );
  }, []);
  if (!sites) return <p class="pa-muted">{note?.text ?? t("common.loading")}</p>;
  if (!sites.length) return <p class="pa-muted">{t("kb.noSites")}</p>;
  return (
    <div class="pa-kb" data-testid="knowledge">
      <div class="pa-kb-bar">
        <label class="pa-kb-site">
          {t("filters.site")}
          <select data-testid="kb-site" value={site} onChange={(e) => setSite(e.currentTarget.value)}>
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <a href={`/help/${encodeURIComponent(site)}`} target="_blank" rel="noopener" data-testid="kb-help-link">
          {t("kb.helpPage")}
        </a>
      </div>
      {admin && <AssistantSettings key={"a" + site} site={site} />}
      {admin && <TranslationSettings key={"t" + site} site={site} />}
      <Articles key={"l" + site} site={site} admin={admin} />
    </div>
  );
}

const MODES: [Assistant["mode"], Key][] = [
  ["off", "kb.mode.off"],
  ["first", "kb.mode.first"],
  ["fallback", "kb.mode.fallback"],
];

function AssistantSettings({ site }: { site: string }) {
  const [a, setA] = useState<Assistant | null>(null);
  // null: keep the stored key; "": remove it; else the new key.
  const [key, setKey] = useState<string | null>(null);
  const [note, setNote] = useState<Note>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<{ assistant: Assistant }>("GET", `/api/sites/${encodeURIComponent(site)}/assistant`).then(
      (x) => setA(x.assistant),
      (e) => setNote({ ok: false, text: errorText(e) }),
    );
  }, [site]);
  if (!a) return <p class="pa-muted">{note?.text ?? t("common.loading")}</p>;
  const set = (patch: Partial<Assistant>) => setA({ ...a, ...patch });
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNote(null);
    try {
      const body: Record<string, unknown> = { mode: a.mode, provider: a.provider, url: a.url, model: a.model };
      if (key !== null) body.key = key;
      const x = await api<{ assistant: Assistant }>("PUT", `/api/sites/${encodeURIComponent(site)}/assistant`, body);
      setA(x.assistant);
      setKey(null);
      setNote({ ok: true, text: x.assistant.mode === "off" ? t("kb.savedOff") : t("kb.savedOn") });
    } catch (err) {
      setNote({ ok: false, text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="pa-form-grid pa-kb-assistant" onSubmit={save} aria-label={t("kb.assistantLabel")} data-testid="assistant-settings">
      <h3>{t("kb.assistant")}</h3>
      <label>
        {t("kb.when")}
        <select data-testid="assistant-mode" value={a.mode} onChange={(e) => set({ mode: e.currentTarget.value as Assistant["mode"] })}>
          {MODES.map(([v, label]) => (
            <option key={v} value={v}>
              {t(label)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t("admin.provider")}
        <select data-testid="assistant-provider" value={a.provider} onChange={(e) => set({ provider: e.currentTarget.value as Assistant["provider"] })}>
          <option value="builtin">{t("kb.builtin")}</option>
          <option value="openai">{t("admin.openaiOption")}</option>
        </select>
      </label>
      {a.provider === "openai" && (
        <fieldset>
          <legend>{t("admin.endpoint")}</legend>
          <label>
            {t("admin.apiUrl")}
            <input data-testid="assistant-url" dir="ltr" placeholder="http://127.0.0.1:11434/v1" maxLength={500} value={a.url} onInput={(e) => set({ url: e.currentTarget.value })} />
          </label>
          <label>
            {t("admin.model")}
            <input data-testid="assistant-model" placeholder="llama3.2" maxLength={200} value={a.model} onInput={(e) => set({ model: e.currentTarget.value })} />
          </label>
          <label>
            {t("admin.apiKey")}
            <input
              data-testid="assistant-key"
              type="password"
              autoComplete="new-password"
              placeholder={a.key_set ? t("admin.keySaved") : t("admin.keyNone")}
              value={key ?? ""}
              onInput={(e) => setKey(e.currentTarget.value || null)}
            />
          </label>
          {a.key_set && (
            <label class="pa-check">
              <input type="checkbox" data-testid="assistant-key-remove" checked={key === ""} onChange={(e) => setKey(e.currentTarget.checked ? "" : null)} />
              {t("admin.keyRemove")}
            </label>
          )}
        </fieldset>
      )}
      <p class="pa-muted pa-wide">
        {t(a.provider === "builtin" ? "kb.builtinHelp" : "kb.openaiHelp")} {t("kb.personAlways")}
      </p>
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn" data-testid="assistant-save" disabled={busy}>
          {t("common.save")}
        </button>
      </div>
      {note && (
        <div class="pa-wide" role={note.ok ? "status" : "alert"} data-testid="assistant-note">
          {note.text}
        </div>
      )}
    </form>
  );
}

function Articles({ site, admin }: { site: string; admin: boolean }) {
  const [list, setList] = useState<Article[] | null>(null);
  const [editing, setEditing] = useState<Article | "new" | null>(null);
  const [note, setNote] = useState<Note>(null);
  const [confirm, ask] = useConfirm();
  const load = () =>
    api<{ articles: Article[] }>("GET", `/api/sites/${encodeURIComponent(site)}/articles`).then(
      (x) => setList(x.articles),
      (e) => setNote({ ok: false, text: errorText(e) }),
    );
  useEffect(() => void load(), [site]);
  const remove = async (a: Article) => {
    if (!(await ask(t("kb.deleteQ", { title: a.title }), t("kb.deleteAction")))) return;
    try {
      await api("DELETE", `/api/articles/${encodeURIComponent(a.id)}`);
      setNote({ ok: true, text: t("kb.deleted", { title: a.title }) });
      await load();
    } catch (err) {
      setNote({ ok: false, text: errorText(err) });
    }
  };
  return (
    <section class="pa-kb-articles" aria-label={t("kb.articles")}>
      <div class="pa-kb-bar">
        <h3>{t("kb.articles")}</h3>
        {admin && (
          <button type="button" class="pa-btn" data-testid="article-new" onClick={() => setEditing("new")}>
            {t("kb.new")}
          </button>
        )}
      </div>
      {admin && <Import site={site} onDone={(text) => {
            setNote({ ok: true, text });
            void load();
          }} onError={(text) => setNote({ ok: false, text })} />}
      {note && (
        <div role={note.ok ? "status" : "alert"} data-testid="kb-note" class={note.ok ? "pa-muted" : "pa-danger"}>
          {note.text}
        </div>
      )}
      {list === null ? (
        <p class="pa-muted">{t("common.loading")}</p>
      ) : list.length === 0 ? (
        <p class="pa-muted">{t("kb.empty")}</p>
      ) : (
        <div class="pa-table-scroll">
          <table class="pa-table" data-testid="articles">
            <thead>
              <tr>
                <th>{t("admin.title")}</th>
                <th>{t("filters.language")}</th>
                <th>{t("kb.tags")}</th>
                <th>{t("kb.state")}</th>
                <th>{t("sup.updated")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.id} data-testid="article-row">
                  <td>
                    {a.published ? (
                      <a href={a.url} target="_blank" rel="noopener">
                        {a.title}
                      </a>
                    ) : (
                      a.title
                    )}
                  </td>
                  <td>{a.language}</td>
                  <td>{a.tags.join(", ")}</td>
                  <td>{t(a.published ? "kb.published" : "kb.draft")}</td>
                  <td>{dateTime(a.updated_at)}</td>
                  <td class="pa-kb-actions">
                    {admin && (
                      <>
                        <button type="button" class="pa-btn-outline" data-testid="article-edit" onClick={() => setEditing(a)}>
                          {t("common.edit")}
                        </button>
                        <button type="button" class="pa-btn-outline pa-btn-danger" data-testid="article-delete" onClick={() => void remove(a)}>
                          {t("canned.delete")}
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <Dialog title={t(editing === "new" ? "kb.new" : "kb.edit")} wide onClose={() => setEditing(null)}>
          <ArticleForm
            site={site}
            article={editing === "new" ? null : editing}
            onSaved={(a) => {
              setEditing(null);
              setNote({ ok: true, text: t("kb.saved", { title: a.title }) });
              void load();
            }}
          />
        </Dialog>
      )}
      {confirm}
    </section>
  );
}

function ArticleForm({ site, article, onSaved }: { site: string; article: Article | null; onSaved: (a: Article) => void }) {
  const [title, setTitle] = useState(article?.title ?? "");
  const [body, setBody] = useState(article?.body ?? "");
  const [tags, setTags] = useState(article?.tags.join(", ") ?? "");
  const [language, setLanguage] = useState(article?.language ?? "en");
  const [published, setPublished] = useState(article?.published ?? true);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    const req = { title, body, language, published, tags: tags.split(",").map((tag) => tag.trim()).filter(Boolean) };
    try {
      const x = article
        ? await api<{ article: Article }>("PATCH", `/api/articles/${encodeURIComponent(article.id)}`, req)
        : await api<{ article: Article }>("POST", `/api/sites/${encodeURIComponent(site)}/articles`, req);
      onSaved(x.article);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="pa-form-grid pa-kb-form" onSubmit={save} data-testid="article-form">
      <label class="pa-wide">
        {t("admin.title")}
        <input data-testid="article-title" required maxLength={300} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </label>
      <label class="pa-wide">
        {t("kb.body")}
        <textarea data-testid="article-body" rows={14} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
      </label>
      <label>
        {t("kb.tagsField")}
        <input data-testid="article-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
      </label>
      <label>
        {t("filters.language")}
        <input data-testid="article-language" placeholder="en" maxLength={35} value={language} onInput={(e) => setLanguage(e.currentTarget.value)} />
      </label>
      <label class="pa-check">
        <input type="checkbox" data-testid="article-published" checked={published} onChange={(e) => setPublished(e.currentTarget.checked)} />
        {t("kb.publishedField")}
      </label>
      {error && (
        <div class="pa-wide pa-danger" role="alert" data-testid="article-error">
          {error}
        </div>
      )}
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn" data-testid="article-save" disabled={busy}>
          {t("common.save")}
        </button>
      </div>
    </form>
  );
}

/** Import sends Markdown or HTML files, one article each, read here and
 * sent as JSON like every dashboard write. */
function Import({ site, onDone, onError }: { site: string; onDone: (text: string) => void; onError: (text: string) => void }) {
  const [files, setFiles] = useState<FileList | null>(null);
  const [publish, setPublish] = useState(true);
  const [language, setLanguage] = useState("en");
  const [busy, setBusy] = useState(false);
  const [input, setInput] = useState(0); // a new key empties the file input
  const send = async () => {
    if (!files?.length) return;
    setBusy(true);
    try {
      const list = await Promise.all([...files].map(async (f) => ({ name: f.name, content: await f.text() })));
      const x = await api<{ articles: Article[] }>("POST", `/api/sites/${encodeURIComponent(site)}/articles/import`, { files: list, publish, language });
      onDone(tn(publish ? "kb.imported" : "kb.importedDrafts", x.articles.length));
      setFiles(null);
      setInput((k) => k + 1);
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="pa-kb-import" data-testid="kb-import">
      <label>
        {t("kb.importFiles")}
        <input
          key={input}
          type="file"
          multiple
          accept=".md,.markdown,.html,.htm,.txt,text/markdown,text/html"
          data-testid="kb-files"
          onChange={(e) => setFiles(e.currentTarget.files)}
        />
      </label>
      <label>
        {t("filters.language")}
        <input class="pa-kb-lang" maxLength={35} value={language} onInput={(e) => setLanguage(e.currentTarget.value)} />
      </label>
      <label class="pa-check">
        <input type="checkbox" checked={publish} onChange={(e) => setPublish(e.currentTarget.checked)} />
        {t("kb.publish")}
      </label>
      <button type="button" class="pa-btn-outline" data-testid="kb-import-send" disabled={busy || !files?.length} onClick={() => void send()}>
        {t("kb.import")}
      </button>
    </div>
  );
}
