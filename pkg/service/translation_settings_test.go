package service

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// An admin chooses a site's translation provider: the key is write-only
// (never in an answer, nor in the audit log), bad settings are refused
// with a code, the test button translates a sample through the settings
// sent (the stored key when none is sent) and names a failing endpoint's
// class of failure (pkg/assistant's TestDiagnoseNamesEachFailure has them
// all), and live messages then go through the chosen provider; "off"
// leaves them as written.
func TestTranslationSettings(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		const secret = "sk-translate-never-shown"
		var mu sync.Mutex
		var auth []string
		calls := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(auth) }
		model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auth = append(auth, r.Header.Get("Authorization"))
			mu.Unlock()
			if strings.Contains(r.URL.Path, "broken") {
				http.Error(w, `{"error":{"message":"model not found"}}`, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Translated by the model\"}}]}\n\ndata: [DONE]\n\n")
		}))
		defer model.Close()
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		path := "/api/sites/" + ts.site.ID + "/translation"
		type settings struct {
			Translation struct {
				Provider, URL, Model string
				KeySet               bool `json:"key_set"`
			}
		}
		var got settings
		if code := admin.call(t, "GET", path, nil, &got); code != 200 || got.Translation.Provider != "default" || got.Translation.KeySet {
			t.Fatalf("default: %d %+v", code, got)
		}
		var bad struct{ Error, Code string }
		if code := admin.call(t, "PUT", path, map[string]any{"provider": "openai", "url": "ftp://x"}, &bad); code != 400 || bad.Code != protocol.CodeInvalid {
			t.Fatalf("bad url: %d %+v", code, bad)
		}
		if code := admin.call(t, "PUT", path, map[string]any{"provider": "babel"}, &bad); code != 400 {
			t.Fatalf("unknown provider: %d", code)
		}
		raw := map[string]any{}
		if code := admin.call(t, "PUT", path, map[string]any{"provider": "openai", "url": model.URL + "/v1", "model": "m", "key": secret}, &raw); code != 200 {
			t.Fatalf("save: %d %v", code, raw)
		}
		if b, _ := json.Marshal(raw); strings.Contains(string(b), secret) || !strings.Contains(string(b), `"key_set":true`) {
			t.Fatalf("the answer: %s", b)
		}
		admin.call(t, "GET", path, nil, &raw)
		if b, _ := json.Marshal(raw); strings.Contains(string(b), secret) {
			t.Fatalf("GET shows the key: %s", b)
		}

		// The test button, with the stored key, then a broken endpoint.
		var res struct {
			OK         bool
			Text, From string
			To         string
			Error      string
			Code       string
			Detail     string
		}
		if code := admin.call(t, "POST", path+"/test", map[string]any{"provider": "openai", "url": model.URL + "/v1", "model": "m"}, &res); code != 200 || !res.OK || res.Text != "Translated by the model" || res.From != "en" || res.To != "es" {
			t.Fatalf("test: %d %+v", code, res)
		}
		if a := calls(); a[len(a)-1] != "Bearer "+secret {
			t.Fatalf("the test did not use the stored key: %q", a[len(a)-1])
		}
		res.Detail = ""
		if code := admin.call(t, "POST", path+"/test", map[string]any{"provider": "openai", "url": model.URL + "/broken/v1", "model": "m"}, &res); code != 200 || res.OK ||
			res.Code != "not_found" || !strings.Contains(res.Error, "404") || res.Detail != "model not found" || strings.Contains(res.Error, "broken") {
			t.Fatalf("broken endpoint: %d %+v", code, res)
		}
		res.Detail = ""
		if code := admin.call(t, "POST", path+"/test", map[string]any{"provider": "openai", "url": "http://127.0.0.1:1/v1", "model": "m"}, &res); code != 200 || res.OK ||
			res.Code != "unreachable" || !strings.Contains(res.Error, "127.0.0.1:1") || res.Detail != "" {
			t.Fatalf("nothing listening: %d %+v", code, res)
		}
		var log struct{ Entries []auditJSON }
		admin.call(t, "GET", "/api/audit?limit=50", nil, &log)
		saved := false
		for _, e := range log.Entries {
			if strings.Contains(e.Detail, secret) {
				t.Fatalf("the audit log holds the key: %+v", e)
			}
			saved = saved || e.Action == "site.translation" && e.Detail == "openai, key set" && e.Target == ts.site.ID
		}
		if !saved {
			t.Fatalf("the change is not audited: %+v", log.Entries)
		}

		// Live: a Japanese visitor's message reaches the English agent
		// through the site's endpoint (the assistant has none).
		admin.call(t, "PATCH", "/api/agents/"+admin.id, map[string]any{"languages": []string{"en"}}, nil)
		ag := admin.socket(t)
		v, _ := ts.visitorWithLocale(t, "ja-JP")
		conv, _ := startSeeing(v)
		ag.sendMsg(conv.ID, "a1", "Hello")
		ack := v.sendMsg(conv.ID, "m1", "こんにちは")
		if tr := nextTranslation(ag, conv.ID, ack.Seq, protocol.AudienceAgent).Translation; tr.Text != "Translated by the model" || tr.Provider != "openai" {
			t.Fatalf("live: %+v", tr)
		}

		// Off: nothing goes to the endpoint any more.
		if code := admin.call(t, "PUT", path, map[string]any{"provider": "off"}, nil); code != 200 {
			t.Fatalf("off: %d", code)
		}
		before := len(calls())
		ack = v.sendMsg(conv.ID, "m2", "さようなら")
		ag.sendMsg(conv.ID, "a2", "Bye") // a later frame: the message before it was not translated
		if h := history(ag, conv.ID); h[ack.Seq].Translation != nil || len(calls()) != before {
			t.Fatalf("off still translates: %+v, %d calls", h[ack.Seq].Translation, len(calls())-before)
		}
	})
}
