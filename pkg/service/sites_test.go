package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// siteOut is a site as the API answers it.
type siteOut struct {
	Site siteJSON `json:"site"`
}

// widgetVisitor opens a widget session for site as a page of origin
// would, and connects its live socket.
func (ts *testServer) widgetVisitor(t *testing.T, site, origin string) (*client, int) {
	t.Helper()
	body, _ := json.Marshal(widgetSessionReq{SiteID: site, Locale: "en-US"})
	req, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, res.StatusCode
	}
	var out struct{ Token string }
	json.NewDecoder(res.Body).Decode(&out)
	return dial(t, ts.wsURL("/ws/visitor?token="+out.Token), http.Header{"Origin": {origin}}), res.StatusCode
}

// An admin creates a second site from the dashboard's API; its widget works
// on its own origin, and its settings reach its open widgets live.
func TestSitesCreateEditDelete(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		const shop = "http://127.0.0.2:8080"
		var created siteOut
		code := admin.call(t, "POST", "/api/sites", map[string]any{
			"name": "  Shop  ", "allowed_origins": []string{shop, shop + "/", "https://Shop.Example"},
			"look": map[string]any{"accent_color": "#AA3300", "title": "Shop help", "launcher_position": "left"},
		}, &created)
		s := created.Site
		if code != http.StatusCreated || s.ID == "" || s.Name != "Shop" || s.IdentitySecret == "" {
			t.Fatalf("create: %d %+v", code, s)
		}
		if strings.Join(s.AllowedOrigins, " ") != shop+" https://shop.example" {
			t.Fatalf("allowed origins are cleaned and deduplicated: %q", s.AllowedOrigins)
		}
		want := lookJSON{Title: "Shop help", AccentColor: "#aa3300", LauncherPosition: "left", ShowAvatars: true}
		if s.Look != want || !strings.Contains(s.EmbedCode, `data-site="`+s.ID+`"`) {
			t.Fatalf("look %+v, embed %q", s.Look, s.EmbedCode)
		}
		var list struct{ Sites []siteJSON }
		if admin.call(t, "GET", "/api/sites", nil, &list); len(list.Sites) != 2 || list.Sites[1].ID != s.ID {
			t.Fatalf("list: %+v", list.Sites)
		}

		// The new site's widget works on its origin, not on the first's.
		if _, code := ts.widgetVisitor(t, s.ID, "http://127.0.0.3:8080"); code != http.StatusForbidden {
			t.Fatalf("a widget session from an origin the site does not allow: %d", code)
		}
		v, _ := ts.widgetVisitor(t, s.ID, shop)
		v.hello(nil)
		other := ts.visitor(t) // the first site's
		other.hello(nil)

		// A change reaches the site's open widgets, and only them.
		var patched siteOut
		if code := admin.call(t, "PATCH", "/api/sites/"+s.ID, map[string]any{"look": map[string]any{"language": "klingon"}}, nil); code != http.StatusBadRequest {
			t.Fatalf("a language the widget does not speak: %d, want 400", code)
		}
		if code := admin.call(t, "PATCH", "/api/sites/"+s.ID, map[string]any{"look": map[string]any{"accent_color": "#0f766e", "language": "fr"}}, &patched); code != 200 {
			t.Fatalf("patch: %d", code)
		}
		if p := patched.Site; p.Look.AccentColor != "#0f766e" || p.Look.Title != "Shop help" || p.Look.Language != "fr" || len(p.AllowedOrigins) != 2 {
			t.Fatalf("a PATCH changes what it names and keeps the rest: %+v", p)
		}
		var f protocol.Site
		v.next(protocol.TypeSite, &f)
		if f.Look.AccentColor != "#0f766e" || f.Look.Title != "Shop help" || f.Look.LauncherPosition != "left" || f.Look.Language != "fr" {
			t.Fatalf("site frame: %+v", f.Look)
		}
		other.send(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: "p"}})
		for {
			var env protocol.Envelope
			_, data, err := other.ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(data, &env)
			if env.Type == protocol.TypeSite {
				t.Fatal("another site's widget got this site's settings")
			}
			if env.Type == protocol.TypePong {
				break
			}
		}

		// The loader reads the look from any page.
		res, err := http.Get(ts.URL + "/api/widget/look?site=" + s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var look struct{ Look protocol.WidgetLook }
		json.NewDecoder(res.Body).Decode(&look)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "*" || look.Look.AccentColor != "#0f766e" {
			t.Fatalf("look: %d %q %+v", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), look.Look)
		}

		// Delete: the widget stops, the last site stays.
		if code := admin.call(t, "DELETE", "/api/sites/"+s.ID, nil, nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d", code)
		}
		if code := admin.call(t, "GET", "/api/sites/"+s.ID, nil, nil); code != http.StatusNotFound {
			t.Fatalf("a deleted site: %d", code)
		}
		if _, code := ts.widgetVisitor(t, s.ID, shop); code != http.StatusNotFound {
			t.Fatalf("a deleted site's widget session: %d", code)
		}
		var e apiErr
		if code := admin.call(t, "DELETE", "/api/sites/"+ts.site.ID, nil, &e); code != http.StatusConflict || e.Code != "conflict" {
			t.Fatalf("deleting the last site: %d %+v", code, e)
		}
		if got := auditActions(t, admin); !strings.Contains(strings.Join(got, " "), "site_created site_updated site_deleted") {
			t.Fatalf("audit: %v", got)
		}
	})
}

// Bad input is refused with 400 invalid and changes nothing; only admins
// with the CSRF token change sites.
func TestSitesRefuseBadInputAndNonAdmins(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		for name, body := range map[string]map[string]any{
			"no name":          {"allowed_origins": []string{}},
			"blank name":       {"name": "   "},
			"origin with path": {"name": "x", "allowed_origins": []string{"https://shop.example/path"}},
			"origin injection": {"name": "x", "allowed_origins": []string{"https://a.example;script-src *"}},
			"accent word":      {"name": "x", "look": map[string]any{"accent_color": "red"}},
			"accent css":       {"name": "x", "look": map[string]any{"accent_color": "#fff;x"}},
			"position":         {"name": "x", "look": map[string]any{"launcher_position": "top"}},
			"long title":       {"name": "x", "look": map[string]any{"title": strings.Repeat("t", 61)}},
		} {
			var e apiErr
			if code := admin.call(t, "POST", "/api/sites", body, &e); code != http.StatusBadRequest || e.Code != protocol.CodeInvalid {
				t.Errorf("%s: %d %+v", name, code, e)
			}
		}
		var e apiErr
		if code := admin.call(t, "PATCH", "/api/sites/"+ts.site.ID, map[string]any{"name": ""}, &e); code != http.StatusBadRequest {
			t.Errorf("emptying the name: %d", code)
		}
		if code := admin.callCSRF(t, "POST", "/api/sites", map[string]any{"name": "x"}, &e, ""); code != http.StatusForbidden || e.Code != codeCSRF {
			t.Errorf("without CSRF: %d %+v", code, e)
		}
		sup := admin.newAgent(t, "Sue", map[string]any{"role": "supervisor"})
		for _, r := range []struct{ method, path string }{
			{"POST", "/api/sites"}, {"PATCH", "/api/sites/" + ts.site.ID}, {"DELETE", "/api/sites/" + ts.site.ID},
		} {
			if code := sup.call(t, r.method, r.path, map[string]any{"name": "x"}, nil); code != http.StatusForbidden {
				t.Errorf("supervisor %s %s: %d", r.method, r.path, code)
			}
		}
		var got siteOut
		if sup.call(t, "GET", "/api/sites/"+ts.site.ID, nil, &got); got.Site.Name != ts.site.Name || got.Site.IdentitySecret != "" {
			t.Errorf("a supervisor reads the site without its secret: %+v", got.Site)
		}
		var list struct{ Sites []siteJSON }
		if admin.call(t, "GET", "/api/sites", nil, &list); len(list.Sites) != 1 {
			t.Errorf("refused requests created sites: %d", len(list.Sites))
		}
	})
}

// The launcher's label is in the language the frame will speak (the
// site's, then boot's, then the browser's), in the widget's own words for
// it, so the button on the page is not English until the frame loads.
func TestLauncherLabel(t *testing.T) {
	for _, c := range []struct{ site, boot, accept, want string }{
		{"", "", "fr-FR,fr;q=0.9,en;q=0.8", "Discutez avec nous"},
		{"", "", "ja,pt-BR;q=0.8", "Fale conosco"},
		{"", "de", "fr-FR", "Chatten Sie mit uns"},
		{"ar", "de", "fr-FR", "تحدّث معنا"},
		{"", "es_MX", "", "Chatea con nosotros"},
		{"", "", "ja,zh;q=0.5", "Chat with us"},
		{"", "", "", "Chat with us"},
	} {
		if got := launcherLabel(c.site, c.boot, c.accept); got != c.want {
			t.Errorf("site %q boot %q browser %q: %q, want %q", c.site, c.boot, c.accept, got, c.want)
		}
	}

	// Every language the widget speaks has one, in the frame's own words
	// (widget/src/locales; English is built in).
	for _, lang := range widgetLanguages {
		if launcherLabels[lang] == "" {
			t.Errorf("no launcher label in %s", lang)
		}
	}
	for lang, label := range launcherLabels {
		if lang == "en" {
			continue
		}
		data, err := os.ReadFile("../../widget/src/locales/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var table map[string]string
		if err := json.Unmarshal(data, &table); err != nil {
			t.Fatal(err)
		}
		if table[launcherLabels["en"]] != label {
			t.Errorf("%s: the launcher says %q, the frame %q", lang, label, table[launcherLabels["en"]])
		}
	}

	ts := newTestServer(t, storetest.SQLite(t))
	req, _ := http.NewRequest("GET", ts.URL+"/api/widget/look?site="+ts.site.ID+"&locale=", nil)
	req.Header.Set("Accept-Language", "fr-CA,fr;q=0.9")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var look struct{ Label string }
	json.NewDecoder(res.Body).Decode(&look)
	res.Body.Close()
	if look.Label != "Discutez avec nous" || res.Header.Get("Vary") != "Accept-Language" {
		t.Fatalf("look for a French browser: label %q, Vary %q", look.Label, res.Header.Get("Vary"))
	}
}
