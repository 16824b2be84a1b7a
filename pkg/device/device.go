// Package device says what a visitor's request tells about their device and
// place, for the agent's visitor panel: browser, operating system and kind
// of device from the User-Agent header, and an approximate location from a
// GeoIP database file when one is configured (none is bundled).
//
// The User-Agent reading is a short table of the browsers and systems that
// make up nearly all chat visitors, not a full parser: a full one embeds
// megabytes of patterns, and an agent needs "Chrome 131 on Android, phone",
// not the exact build.
package device

import (
	"regexp"
	"strings"
)

// Info is what a User-Agent says. Empty fields are unknown.
type Info struct {
	Browser        string `json:"browser,omitempty"`
	BrowserVersion string `json:"browser_version,omitempty"`
	OS             string `json:"os,omitempty"`
	OSVersion      string `json:"os_version,omitempty"`
	// Kind is desktop, phone, tablet or bot.
	Kind string `json:"kind,omitempty"`
}

// Kinds of device.
const (
	Desktop = "desktop"
	Phone   = "phone"
	Tablet  = "tablet"
	Bot     = "bot"
)

type rule struct {
	name string
	re   *regexp.Regexp // the first group, if any, is the version
}

// Browsers in the order they must be tried: many claim to be Chrome and
// Safari too (Edge, Opera, Samsung Internet say so and add their own token).
var browsers = []rule{
	{"Edge", regexp.MustCompile(`\bEdg(?:e|A|iOS)?/(\d+)`)},
	{"Opera", regexp.MustCompile(`\b(?:OPR|OPT|Opera)/(\d+)`)},
	{"Samsung Internet", regexp.MustCompile(`\bSamsungBrowser/(\d+)`)},
	{"Yandex Browser", regexp.MustCompile(`\bYaBrowser/(\d+)`)},
	{"Vivaldi", regexp.MustCompile(`\bVivaldi/(\d+)`)},
	{"Firefox", regexp.MustCompile(`\b(?:Firefox|FxiOS)/(\d+)`)},
	{"Chrome", regexp.MustCompile(`\b(?:Chrome|CriOS|HeadlessChrome)/(\d+)`)},
	{"Safari", regexp.MustCompile(`\bVersion/(\d+(?:\.\d+)?).*\bSafari/`)},
	{"Internet Explorer", regexp.MustCompile(`(?:\bMSIE (\d+)|\bTrident/.*\brv:(\d+))`)},
}

// Systems, likewise in order: iPadOS and Android before the Linux and
// macOS they also name.
var systems = []rule{
	{"iOS", regexp.MustCompile(`\b(?:iPhone|iPod)\b.*?\bOS (\d+(?:_\d+)?)`)},
	{"iPadOS", regexp.MustCompile(`\biPad\b.*?\bOS (\d+(?:_\d+)?)`)},
	{"Android", regexp.MustCompile(`\bAndroid (\d+(?:\.\d+)?)`)},
	{"Windows", regexp.MustCompile(`\bWindows NT (\d+\.\d+)`)},
	{"ChromeOS", regexp.MustCompile(`\bCrOS\b`)},
	{"macOS", regexp.MustCompile(`\bMac OS X (\d+(?:[_.]\d+)?)`)},
	{"Linux", regexp.MustCompile(`\bLinux\b`)},
}

var bots = regexp.MustCompile(`(?i)bot\b|crawler|spider|slurp|headless|curl/|wget/|python-requests|go-http-client`)

// windows names the Windows NT versions people know by another name.
var windows = map[string]string{"10.0": "10/11", "6.3": "8.1", "6.2": "8", "6.1": "7"}

// Parse reads a User-Agent header.
func Parse(ua string) Info {
	var in Info
	if ua == "" {
		return in
	}
	if len(ua) > 512 {
		ua = ua[:512]
	}
	if r, v := match(browsers, ua); r != "" {
		in.Browser, in.BrowserVersion = r, v
	}
	if r, v := match(systems, ua); r != "" {
		in.OS, in.OSVersion = r, strings.ReplaceAll(v, "_", ".")
		if r == "Windows" {
			if name, ok := windows[v]; ok {
				in.OSVersion = name
			}
		}
		if r == "macOS" {
			// Browsers freeze this at 10.15 whatever the real version.
			in.OSVersion = ""
		}
	}
	switch {
	case bots.MatchString(ua):
		in.Kind = Bot
	case in.OS == "iPadOS" || strings.Contains(ua, "Tablet") || (in.OS == "Android" && !strings.Contains(ua, "Mobile")):
		in.Kind = Tablet
	case in.OS == "iOS" || strings.Contains(ua, "Mobi"):
		in.Kind = Phone
	case in.OS != "":
		in.Kind = Desktop
	}
	return in
}

func match(rules []rule, ua string) (name, version string) {
	for _, r := range rules {
		m := r.re.FindStringSubmatch(ua)
		if m == nil {
			continue
		}
		for _, g := range m[1:] {
			if g != "" {
				return r.name, g
			}
		}
		return r.name, ""
	}
	return "", ""
}
