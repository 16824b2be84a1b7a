package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/device"
	"github.com/parleychat/parley/pkg/device/devicetest"
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
