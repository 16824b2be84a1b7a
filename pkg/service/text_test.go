package service

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/pkg/protocol"
)

// Text no store can keep (NUL, invalid UTF-8) is refused at the edge with
// a clear error that is not retryable, on every store: PostgreSQL refused
// such writes, which then answered as if the database were down (a
// retryable 503 or unavailable frame, forever). Names are cut between
// characters, never inside one.
func TestTextNoStoreCanKeep(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		for name, frame := range map[string]string{
			"NUL in client_id":     `{"type":"send","ref":"r","client_id":"a\u0000b","conversation":"` + conv.ID + `","body":"hi"}`,
			"NUL in body":          `{"type":"send","ref":"r","client_id":"c","conversation":"` + conv.ID + `","body":"hi\u0000"}`,
			"invalid UTF-8 body":   `{"type":"send","ref":"r","client_id":"d","conversation":"` + conv.ID + "\",\"body\":\"caf\xc3\"}",
			"NUL in conversation":  `{"type":"send","ref":"r","client_id":"e","conversation":"x\u0000","body":"hi"}`,
			"NUL in a resumed id":  `{"type":"resume","ref":"r","conversations":{"x\u0000":0}}`,
			"invalid UTF-8 typing": `{"type":"typing","ref":"r","conversation":"` + "\xff\xfe" + `","on":true}`,
		} {
			v.raw(frame)
			if e := v.expectError(protocol.CodeInvalid); e.Retryable || e.Ref != "r" {
				t.Errorf("%s: %+v, want a final invalid error for ref r", name, e)
			}
		}
		if a := v.sendMsg(conv.ID, "fine", "and a fine one"); a.Seq != 1 {
			t.Fatalf("the valid message after them: seq %d", a.Seq)
		}

		post := func(path, body string) (int, string) {
			t.Helper()
			r, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
			r.Header.Set("Origin", ts.origin())
			r.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		site := `"site_id":"` + ts.site.ID + `"`
		for name, body := range map[string]string{
			"NUL in locale":          `{` + site + `,"locale":"en\u0000"}`,
			"non-ASCII locale":       `{` + site + `,"locale":"日本語"}`,
			"invalid UTF-8 locale":   `{` + site + ",\"locale\":\"en-\xe2\x82\"}",
			"NUL in user_id":         `{` + site + `,"user_id":"u\u0000","user_hash":"00"}`,
			"NUL in the site id":     `{"site_id":"` + ts.site.ID + `\u0000"}`,
			"invalid UTF-8 anywhere": `{` + site + ",\"page\":\"http://x.example/\xc0\"}",
		} {
			if code, out := post("/api/widget/session", body); code != http.StatusBadRequest || !strings.Contains(out, `"code":"invalid"`) {
				t.Errorf("widget session, %s: %d %s", name, code, out)
			}
		}
		if code, out := post("/api/widget/offline", `{"token":"x","name":"A\u0000","email":"a@example.com","message":"hi"}`); code != http.StatusBadRequest || !strings.Contains(out, `"code":"invalid"`) {
			t.Errorf("offline form with a NUL: %d %s", code, out)
		}
		res, err := http.Get(ts.URL + "/api/widget/availability?site=" + ts.site.ID + "%00")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("availability for a site id with %%00: %d", res.StatusCode)
		}

		// A verified name of 201 bytes whose 200th is inside "é": cut
		// before the "é", and the session works.
		now := time.Now()
		name := strings.Repeat("a", 199) + "é"
		code, out := ts.session(t, widgetSessionReq{IdentityToken: identityJWT([]byte(ts.site.Secret),
			map[string]any{"sub": "cut-" + conv.ID, "name": name, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})})
		if code != http.StatusOK {
			t.Fatalf("verified long name: %d %+v", code, out)
		}
		stored, err := ts.st.Workspace(ts.site.WorkspaceID).Visitor(context.Background(), out.Visitor.ID)
		if err != nil || stored.Name != strings.Repeat("a", 199) || !utf8.ValidString(stored.Name) {
			t.Fatalf("stored name %q (%v), want the 199 a's", stored.Name, err)
		}
	})
}
