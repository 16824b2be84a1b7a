package device_test

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/pkg/device"
	"github.com/parleychat/parley/pkg/device/devicetest"
)

// User-Agents of real browsers, as sent in 2025-2026.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want device.Info
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			device.Info{Browser: "Chrome", BrowserVersion: "131", OS: "Windows", OSVersion: "10/11", Kind: device.Desktop}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
			device.Info{Browser: "Edge", BrowserVersion: "131", OS: "Windows", OSVersion: "10/11", Kind: device.Desktop}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
			device.Info{Browser: "Safari", BrowserVersion: "18.2", OS: "macOS", Kind: device.Desktop}},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
			device.Info{Browser: "Firefox", BrowserVersion: "133", OS: "Linux", Kind: device.Desktop}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
			device.Info{Browser: "Safari", BrowserVersion: "18.2", OS: "iOS", OSVersion: "18.2", Kind: device.Phone}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
			device.Info{Browser: "Chrome", BrowserVersion: "131", OS: "iOS", OSVersion: "17.5", Kind: device.Phone}},
		{"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
			device.Info{Browser: "Safari", BrowserVersion: "16.6", OS: "iPadOS", OSVersion: "16.6", Kind: device.Tablet}},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
			device.Info{Browser: "Samsung Internet", BrowserVersion: "26", OS: "Android", OSVersion: "14", Kind: device.Phone}},
		{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			device.Info{Browser: "Chrome", BrowserVersion: "131", OS: "Android", OSVersion: "13", Kind: device.Tablet}},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
			device.Info{Browser: "Opera", BrowserVersion: "115", OS: "ChromeOS", Kind: device.Desktop}},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			device.Info{Kind: device.Bot}},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
			device.Info{Browser: "Chrome", BrowserVersion: "156", OS: "Linux", Kind: device.Bot}},
		{"", device.Info{}},
		{"something else entirely", device.Info{}},
	} {
		if got := device.Parse(tc.ua); got != tc.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.ua, got, tc.want)
		}
	}
}

func TestGeoIP(t *testing.T) {
	want := device.Place{CountryCode: "PT", Country: "Portugal", Region: "Lisbon", City: "Lisbon"}
	g, err := device.OpenGeoIP(devicetest.CityDB(t, "203.0.113.0/24", want))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, ip := range []string{"203.0.113.9", "::ffff:203.0.113.200"} {
		if got, ok := g.Locate(netip.MustParseAddr(ip)); !ok || got != want {
			t.Errorf("Locate(%s) = %+v, %v; want %+v", ip, got, ok, want)
		}
	}
	for _, ip := range []string{"198.51.100.1", "127.0.0.1", "::1"} {
		if got, ok := g.Locate(netip.MustParseAddr(ip)); ok {
			t.Errorf("Locate(%s) = %+v; want not found", ip, got)
		}
	}
	if _, ok := g.Locate(netip.Addr{}); ok {
		t.Error("the zero address was found")
	}
	if _, err := device.OpenGeoIP(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("a missing file opened")
	}
}
