package service

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/device"
	"github.com/parleychat/parley/pkg/device/devicetest"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// The visitor panel says which browser, system and device the visitor
// uses and, with a GeoIP database configured, roughly where they are; the
// address comes through the trusted proxy.
func TestVisitorPanelShowsDeviceAndPlace(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, "-trusted-proxies", "127.0.0.1/32")
			lisbon := device.Place{CountryCode: "PT", Country: "Portugal", Region: "Lisbon", City: "Lisbon"}
			g, err := device.OpenGeoIP(devicetest.CityDB(t, "203.0.113.0/24", lisbon))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Close() })
			ts.srv.places = g

			const phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1"
			open := func(token, ua, from string) sessionReply {
				t.Helper()
				body, _ := json.Marshal(widgetSessionReq{SiteID: ts.site.ID, Token: token})
				r, _ := http.NewRequest("POST", ts.URL+"/api/widget/session", bytes.NewReader(body))
				r.Header.Set("Origin", ts.origin())
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("User-Agent", ua)
				r.Header.Set("X-Forwarded-For", from)
				res, err := http.DefaultClient.Do(r)
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("session: %v %v", err, res)
				}
				defer res.Body.Close()
				var out sessionReply
				json.NewDecoder(res.Body).Decode(&out)
				return out
			}
			admin := ts.signIn(t, "admin@parley.local", adminPassword)
			panel := func(id string) panelVisitorJSON {
				t.Helper()
				var got struct{ Visitor panelVisitorJSON }
				if code := admin.call(t, "GET", "/api/visitors/"+id, nil, &got); code != 200 {
					t.Fatalf("panel: %d", code)
				}
				return got.Visitor
			}

			s := open("", phone, "203.0.113.9")
			v := panel(s.Visitor.ID)
			if want := (device.Info{Browser: "Safari", BrowserVersion: "18.2", OS: "iOS", OSVersion: "18.2", Kind: device.Phone}); v.Device != want {
				t.Errorf("device %+v, want %+v", v.Device, want)
			}
			if v.Place == nil || *v.Place != lisbon {
				t.Errorf("place %+v, want %+v", v.Place, lisbon)
			}

			// The same visitor later on a laptop somewhere the database
			// does not know: the panel follows, and shows no stale place.
			const laptop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
			if again := open(s.Token, laptop, "198.51.100.7"); again.Visitor.ID != s.Visitor.ID {
				t.Fatalf("a new visitor %s, want %s", again.Visitor.ID, s.Visitor.ID)
			}
			v = panel(s.Visitor.ID)
			if v.Device.Browser != "Chrome" || v.Device.OS != "Windows" || v.Device.Kind != device.Desktop || v.Place != nil {
				t.Errorf("after the laptop: device %+v place %+v", v.Device, v.Place)
			}

		})
	}
}

// An agent corrects a visitor's contact details: set, cleared, checked,
// sealed at rest; a verified visitor's name and email stay the site's.
func TestAgentEditsVisitorContact(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		_, s := ts.session(t, widgetSessionReq{})
		path := "/api/visitors/" + s.Visitor.ID
		var got struct{ Visitor panelVisitorJSON }
		if code := admin.call(t, "PATCH", path, map[string]any{"name": "  Ana Lima ", "email": "ana@example.com", "phone": "+351 21 000 0000"}, &got); code != 200 {
			t.Fatalf("edit: %d", code)
		}
		if v := got.Visitor; v.Name != "Ana Lima" || v.Email != "ana@example.com" || v.Phone != "+351 21 000 0000" {
			t.Fatalf("after the edit: %+v", v)
		}
		// Clearing the phone leaves the rest.
		got.Visitor = panelVisitorJSON{}
		if code := admin.call(t, "PATCH", path, map[string]any{"phone": ""}, &got); code != 200 || got.Visitor.Phone != "" || got.Visitor.Email != "ana@example.com" {
			t.Fatalf("clear the phone: %d %+v", code, got.Visitor)
		}
		var e struct{ Code, Error string }
		for _, bad := range []map[string]any{{}, {"name": " "}, {"email": "not an address"}, {"phone": "call me maybe"}, {"name": strings.Repeat("x", 201)}} {
			if code := admin.call(t, "PATCH", path, bad, &e); code != 400 || e.Code != protocol.CodeInvalid {
				t.Errorf("%v: %d %q, want 400 invalid", bad, code, e.Code)
			}
		}
		if code := admin.call(t, "PATCH", "/api/visitors/no-such-visitor", map[string]any{"phone": "1"}, &e); code != 404 {
			t.Errorf("unknown visitor: %d", code)
		}
		// Sealed at rest, like the pre-chat form's values.
		var raw struct{ Name, Email string }
		if err := ts.st.Gorm().Raw("SELECT name, email FROM visitors WHERE id = ?", s.Visitor.ID).Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw.Name, "Ana") || strings.Contains(raw.Email, "ana@") {
			t.Errorf("the edit is in plaintext in the database: %+v", raw)
		}

		// A verified visitor: the phone is the agent's to add, the name
		// and email the site's.
		secret := []byte(ts.site.Secret)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("user-7"))
		_, vs := ts.session(t, widgetSessionReq{UserID: "user-7", UserHash: hex.EncodeToString(mac.Sum(nil))})
		vpath := "/api/visitors/" + vs.Visitor.ID
		if code := admin.call(t, "PATCH", vpath, map[string]any{"email": "other@example.com"}, &e); code != 409 || e.Code != codeIdentity {
			t.Errorf("verified email: %d %q, want 409 identity", code, e.Code)
		}
		if code := admin.call(t, "PATCH", vpath, map[string]any{"phone": "555 0100"}, &got); code != 200 || got.Visitor.Phone != "555 0100" {
			t.Errorf("verified phone: %d %+v", code, got.Visitor)
		}
	})
}
