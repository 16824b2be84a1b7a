package service

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/knowledge"
	"github.com/parleychat/parley/pkg/store"
)

// The knowledge base: a site's help articles (/api/sites/:id/articles,
// /api/articles/:id; admins write, supervisors read), imported from
// Markdown or HTML files, published on the site's public help page
// (/help/:site, /help/:site/:article), and the site's assistant settings
// (/api/sites/:id/assistant). A visitor leaves the assistant for a person
// with POST /api/widget/handoff.

// articleStore is what the knowledge API needs of one workspace's store.
type articleStore interface {
	Site(ctx context.Context, id string) (store.Site, error)
	Articles(ctx context.Context, siteID string) ([]store.Article, error)
	Article(ctx context.Context, id string) (store.Article, error)
	SaveArticle(ctx context.Context, a store.Article) (store.Article, error)
	DeleteArticle(ctx context.Context, id string) error
	AssistantSettings(ctx context.Context, siteID string) (store.AssistantSettings, error)
	SetAssistantSettings(ctx context.Context, a store.AssistantSettings) error
}

// knowledgeAPI serves articles, help pages and assistant settings.
type knowledgeAPI struct {
	store func(workspaceID string) articleStore
	// site finds a site by its public id, in whatever workspace (help pages).
	site    func(ctx context.Context, id string) (store.Site, error)
	changed func(ctx context.Context, ws, articleID string) // index here, notice to other nodes
	audit   func(c *gin.Context, workspaceID, action, target, detail string)
}

func (s *Server) knowledgeAPI() *knowledgeAPI {
	return &knowledgeAPI{
		store:   func(ws string) articleStore { return s.store.Workspace(ws) },
		site:    s.store.SiteByID,
		changed: s.articleChanged,
		audit:   s.audit,
	}
}

type articleJSON struct {
	ID        string   `json:"id"`
	SiteID    string   `json:"site_id"`
	Title     string   `json:"title"`
	Body      string   `json:"body"`
	Tags      []string `json:"tags"`
	Language  string   `json:"language"`
	Published bool     `json:"published"`
	URL       string   `json:"url"` // its public help page (when published)
	UpdatedAt string   `json:"updated_at"`
}

func toArticleJSON(a store.Article) articleJSON {
	return articleJSON{ID: a.ID, SiteID: a.SiteID, Title: a.Title, Body: a.Body, Tags: splitTags(a.Tags), Language: a.Language,
		Published: a.Published, URL: "/help/" + a.SiteID + "/" + a.ID, UpdatedAt: a.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")}
}

func splitTags(s string) []string {
	out := []string{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func articleErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such " + what)
	}
	return apierr.Unavailable("cannot reach the knowledge base right now; retry", err)
}

func (k *knowledgeAPI) list(c *gin.Context) error {
	sc := k.store(agentOf(c).WorkspaceID)
	ctx := c.Request.Context()
	if _, err := sc.Site(ctx, c.Param("id")); err != nil {
		return articleErr(err, "site")
	}
	as, err := sc.Articles(ctx, c.Param("id"))
	if err != nil {
		return articleErr(err, "site")
	}
	out := make([]articleJSON, len(as))
	for i, a := range as {
		out[i] = toArticleJSON(a)
	}
	c.JSON(http.StatusOK, gin.H{"articles": out})
	return nil
}

// articleReq is the body of POST and PATCH: what a PATCH leaves out stays.
type articleReq struct {
	Title     *string   `json:"title"`
	Body      *string   `json:"body"`
	Tags      *[]string `json:"tags"`
	Language  *string   `json:"language"`
	Published *bool     `json:"published"`
}

// maxArticleBytes bounds an article's Markdown.
const maxArticleBytes = 200 << 10

func (r articleReq) apply(a *store.Article) error {
	if r.Title != nil {
		a.Title = strings.TrimSpace(*r.Title)
	}
	if a.Title == "" || utf8.RuneCountInString(a.Title) > 300 {
		return apierr.Invalid("an article needs a title of at most 300 characters")
	}
	if r.Body != nil {
		if len(*r.Body) > maxArticleBytes {
			return apierr.Invalid("an article is at most 200 KB of Markdown")
		}
		a.Body = *r.Body
	}
	if r.Tags != nil {
		var tags []string
		for _, t := range *r.Tags {
			t = strings.TrimSpace(strings.ReplaceAll(t, ",", " "))
			if t != "" && utf8.RuneCountInString(t) <= 50 {
				tags = append(tags, t)
			}
		}
		if len(tags) > 30 {
			return apierr.Invalid("at most 30 tags")
		}
		a.Tags = strings.Join(tags, ",")
	}
	if r.Language != nil {
		l, err := articleLanguage(*r.Language)
		if err != nil {
			return err
		}
		a.Language = l
	}
	if r.Published != nil {
		a.Published = *r.Published
	}
	return nil
}

// articleLanguage checks an article's language tag ("" is allowed).
func articleLanguage(l string) (string, error) {
	l = strings.TrimSpace(l)
	if len(l) > 35 || strings.ContainsAny(l, " /\\") {
		return "", apierr.Invalid("language is a tag such as en or pt-BR")
	}
	return l, nil
}

func (k *knowledgeAPI) create(c *gin.Context) error {
	me := agentOf(c)
	sc := k.store(me.WorkspaceID)
	ctx := c.Request.Context()
	var req articleReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if _, err := sc.Site(ctx, c.Param("id")); err != nil {
		return articleErr(err, "site")
	}
	a := store.Article{ID: uuid.NewString(), SiteID: c.Param("id"), Language: "en"}
	if err := req.apply(&a); err != nil {
		return err
	}
	a, err := sc.SaveArticle(ctx, a)
	if err != nil {
		return articleErr(err, "site")
	}
	k.changed(ctx, me.WorkspaceID, a.ID)
	k.audit(c, me.WorkspaceID, "article.create", a.ID, a.Title)
	c.JSON(http.StatusCreated, gin.H{"article": toArticleJSON(a)})
	return nil
}

func (k *knowledgeAPI) get(c *gin.Context) error {
	a, err := k.store(agentOf(c).WorkspaceID).Article(c.Request.Context(), c.Param("id"))
	if err != nil {
		return articleErr(err, "article")
	}
	c.JSON(http.StatusOK, gin.H{"article": toArticleJSON(a)})
	return nil
}

func (k *knowledgeAPI) update(c *gin.Context) error {
	me := agentOf(c)
	sc := k.store(me.WorkspaceID)
	ctx := c.Request.Context()
	var req articleReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	a, err := sc.Article(ctx, c.Param("id"))
	if err != nil {
		return articleErr(err, "article")
	}
	if err := req.apply(&a); err != nil {
		return err
	}
	if a, err = sc.SaveArticle(ctx, a); err != nil {
		return articleErr(err, "article")
	}
	k.changed(ctx, me.WorkspaceID, a.ID)
	k.audit(c, me.WorkspaceID, "article.update", a.ID, a.Title)
	c.JSON(http.StatusOK, gin.H{"article": toArticleJSON(a)})
	return nil
}

func (k *knowledgeAPI) remove(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	if err := k.store(me.WorkspaceID).DeleteArticle(ctx, c.Param("id")); err != nil {
		return articleErr(err, "article")
	}
	k.changed(ctx, me.WorkspaceID, c.Param("id"))
	k.audit(c, me.WorkspaceID, "article.delete", c.Param("id"), "")
	c.Status(http.StatusNoContent)
	return nil
}

// importFiles takes Markdown and HTML files, one article each; published
// when publish is true, else drafts. The files come as JSON ({name,
// content} each, read by the dashboard in the browser), not as a
// multipart form: every cookie-authenticated write is JSON
// (requireOwnPage), the content type another site cannot send without a
// preflight.
func (k *knowledgeAPI) importFiles(c *gin.Context) error {
	me := agentOf(c)
	sc := k.store(me.WorkspaceID)
	ctx := c.Request.Context()
	var req struct {
		Files []struct {
			Name    string `json:"name"`
			Content string `json:"content"`
		} `json:"files"`
		Publish  bool   `json:"publish"`
		Language string `json:"language"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	// Another workspace's site is not found, whatever the files.
	if _, err := sc.Site(ctx, c.Param("id")); err != nil {
		return articleErr(err, "site")
	}
	if len(req.Files) == 0 || len(req.Files) > 50 {
		return apierr.Invalid("import 1 to 50 files at a time")
	}
	lang, err := articleLanguage(req.Language)
	if err != nil {
		return err
	}
	if lang == "" {
		lang = "en"
	}
	// Every file is checked before any is stored: an import is all or
	// nothing, so a retry after a fix does not make duplicates.
	ims := make([]knowledge.Imported, len(req.Files))
	for i, f := range req.Files {
		if len(f.Content) > maxArticleBytes {
			return apierr.Invalid(f.Name + " is larger than 200 KB")
		}
		if !utf8.ValidString(f.Content) {
			return apierr.Invalid(f.Name + " is not UTF-8 text")
		}
		im, err := knowledge.Import(f.Name, []byte(f.Content))
		if err != nil {
			return apierr.Invalid(err.Error())
		}
		ims[i] = im
	}
	out := make([]articleJSON, 0, len(ims))
	for _, im := range ims {
		a := store.Article{ID: uuid.NewString(), SiteID: c.Param("id"), Title: store.Truncate(im.Title, 300), Body: im.Body, Language: lang, Published: req.Publish}
		a, err := sc.SaveArticle(ctx, a)
		if err != nil {
			return articleErr(err, "site")
		}
		k.changed(ctx, me.WorkspaceID, a.ID)
		out = append(out, toArticleJSON(a))
	}
	k.audit(c, me.WorkspaceID, "article.import", c.Param("id"), fmt.Sprintf("%d files", len(out)))
	c.JSON(http.StatusCreated, gin.H{"articles": out})
	return nil
}

type assistantJSON struct {
	Mode     string `json:"mode"`
	Provider string `json:"provider"`
	URL      string `json:"url"`
	Model    string `json:"model"`
	// KeySet says whether an API key is stored; the key is never sent back.
	KeySet bool `json:"key_set"`
}

func (k *knowledgeAPI) getAssistant(c *gin.Context) error {
	set, err := k.store(agentOf(c).WorkspaceID).AssistantSettings(c.Request.Context(), c.Param("id"))
	if err != nil {
		return articleErr(err, "site")
	}
	c.JSON(http.StatusOK, gin.H{"assistant": assistantJSON{Mode: set.Mode, Provider: set.Provider, URL: set.URL, Model: set.Model, KeySet: set.APIKey != ""}})
	return nil
}

func (k *knowledgeAPI) setAssistant(c *gin.Context) error {
	me := agentOf(c)
	sc := k.store(me.WorkspaceID)
	ctx := c.Request.Context()
	var req struct {
		Mode     string  `json:"mode"`
		Provider string  `json:"provider"`
		URL      string  `json:"url"`
		Model    string  `json:"model"`
		Key      *string `json:"key"` // absent: keep the stored one; "": remove it
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	set, err := sc.AssistantSettings(ctx, c.Param("id"))
	if err != nil {
		return articleErr(err, "site")
	}
	switch req.Mode {
	case store.AssistantOff, store.AssistantFirst, store.AssistantFallback:
	default:
		return apierr.Invalid("mode is off, first or fallback")
	}
	switch req.Provider {
	case store.ProviderBuiltin:
	case store.ProviderOpenAI:
		u := strings.TrimSpace(req.URL)
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || len(u) > 500 {
			return apierr.Invalid("the OpenAI-compatible provider needs the API's http(s) URL, such as http://127.0.0.1:11434/v1")
		}
		if strings.TrimSpace(req.Model) == "" || len(req.Model) > 200 {
			return apierr.Invalid("the OpenAI-compatible provider needs a model name")
		}
	default:
		return apierr.Invalid("provider is builtin or openai")
	}
	set.Mode, set.Provider, set.URL, set.Model = req.Mode, req.Provider, strings.TrimSpace(req.URL), strings.TrimSpace(req.Model)
	if req.Key != nil {
		if len(*req.Key) > 500 {
			return apierr.Invalid("the API key is at most 500 characters")
		}
		set.APIKey = strings.TrimSpace(*req.Key)
	}
	if err := sc.SetAssistantSettings(ctx, set); err != nil {
		return articleErr(err, "site")
	}
	k.audit(c, me.WorkspaceID, "site.assistant", set.SiteID, set.Mode+" "+set.Provider)
	c.JSON(http.StatusOK, gin.H{"assistant": assistantJSON{Mode: set.Mode, Provider: set.Provider, URL: set.URL, Model: set.Model, KeySet: set.APIKey != ""}})
	return nil
}

// helpPage is a site's public help: its published articles, server
// rendered. The Markdown is rendered by knowledge.RenderHTML (no raw
// HTML, no script links) and the page forbids scripts outright
// (Content-Security-Policy), so an article cannot run code in a
// visitor's browser.
var helpPage = template.Must(template.New("help").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;background:#f7f8fa;margin:0}
main{max-width:46rem;margin:0 auto;padding:2rem 1.25rem 4rem}
header a{color:#52606d;text-decoration:none;font-size:.9rem}
h1{font-size:1.8rem;line-height:1.25;margin:.5rem 0 1.25rem}
article{background:#fff;border:1px solid #e4e7eb;border-radius:10px;padding:1.25rem 1.5rem}
ul.list{list-style:none;padding:0}ul.list li{background:#fff;border:1px solid #e4e7eb;border-radius:8px;margin:.5rem 0}
ul.list a{display:block;padding:.8rem 1rem;color:#1d4ed8;text-decoration:none;font-weight:600}
.tags{color:#7b8794;font-size:.85rem;margin-top:1rem}
code,pre{background:#f0f2f5;border-radius:4px}pre{padding:.75rem;overflow:auto}
</style></head><body><main>
<header><a href="/help/{{.SiteID}}">{{.SiteName}} · Help</a></header>
{{if .Article}}<h1>{{.Article.Title}}</h1><article>{{.Body}}</article>{{if .Tags}}<p class="tags">{{range .Tags}}#{{.}} {{end}}</p>{{end}}
{{else}}<h1>{{.SiteName}} help</h1>{{if .Articles}}<ul class="list">{{range .Articles}}<li><a href="/help/{{$.SiteID}}/{{.ID}}">{{.Title}}</a></li>{{end}}</ul>{{else}}<p>No articles yet.</p>{{end}}{{end}}
</main></body></html>`))

type helpData struct {
	Lang, Title, SiteID, SiteName string
	Article                       *store.Article
	Body                          template.HTML // rendered by knowledge.RenderHTML
	Tags                          []string
	Articles                      []store.Article
}

func (k *knowledgeAPI) writeHelp(c *gin.Context, status int, d helpData) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors *; base-uri 'none'; form-action 'none'")
	h.Set("Cache-Control", "public, max-age=60")
	c.Status(status)
	if err := helpPage.Execute(c.Writer, d); err != nil {
		c.Error(err)
	}
}

func (k *knowledgeAPI) helpIndex(c *gin.Context) error {
	ctx := c.Request.Context()
	site, err := k.site(ctx, c.Param("site"))
	if err != nil {
		return articleErr(err, "help page")
	}
	as, err := k.store(site.WorkspaceID).Articles(ctx, site.ID)
	if err != nil {
		return articleErr(err, "help page")
	}
	d := helpData{Lang: "en", Title: site.Name + " help", SiteID: site.ID, SiteName: site.Name}
	for _, a := range as {
		if a.Published {
			d.Articles = append(d.Articles, a)
		}
	}
	k.writeHelp(c, http.StatusOK, d)
	return nil
}

func (k *knowledgeAPI) helpArticle(c *gin.Context) error {
	ctx := c.Request.Context()
	site, err := k.site(ctx, c.Param("site"))
	if err != nil {
		return articleErr(err, "help page")
	}
	a, err := k.store(site.WorkspaceID).Article(ctx, c.Param("article"))
	if err == nil && (a.SiteID != site.ID || !a.Published) {
		err = store.ErrNotFound // a draft, or another site's article
	}
	if err != nil {
		return articleErr(err, "article")
	}
	body, err := knowledge.RenderHTML(a.Body)
	if err != nil {
		return apierr.Unavailable("cannot show this article", err)
	}
	lang := a.Language
	if lang == "" {
		lang = "en"
	}
	k.writeHelp(c, http.StatusOK, helpData{Lang: lang, Title: a.Title + " · " + site.Name, SiteID: site.ID, SiteName: site.Name,
		Article: &a, Body: template.HTML(body), Tags: splitTags(a.Tags)})
	return nil
}

// widgetHandoff is the widget's "Talk to a person": the visitor's
// conversation leaves the assistant for routing, as any conversation.
func (s *Server) widgetHandoff(c *gin.Context) error {
	var req struct {
		Token string `json:"token"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	p, _, ok := s.visitorFromToken(c, req.Token)
	if !ok {
		return nil // answered
	}
	ctx := c.Request.Context()
	sc := s.store.Workspace(p.WorkspaceID)
	conv, err := sc.OpenConversationOf(ctx, p.ID)
	if err != nil {
		return articleErr(err, "conversation")
	}
	if conv.Status == store.StatusAssistant {
		if err := s.assistant.handoff(ctx, p.WorkspaceID, conv.ID, "the visitor asked for a person"); err != nil {
			return apierr.Unavailable("cannot reach a person right now; retry", err)
		}
	}
	if conv, err = sc.Conversation(ctx, conv.ID); err != nil {
		return articleErr(err, "conversation")
	}
	c.JSON(http.StatusOK, gin.H{"conversation": conv.ID, "status": conv.Status})
	return nil
}
