package service

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// scrape GETs /metrics at base with the given Authorization header and
// returns the status and whether the body has Parley's series.
func scrape(t *testing.T, base, authorization string) (int, bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.Contains(string(body), "parley_slow_client_disconnects_total")
}

// /metrics is open on a development server (reached on loopback); in
// production (a public URL elsewhere) the public listener refuses it
// unless PARLEY_METRICS_TOKEN is set, and then serves it only with that
// bearer token; with PARLEY_METRICS_ADDR it is not on the public listener
// at all.
func TestMetricsAreProtectedInProduction(t *testing.T) {
	st := storetest.SQLite(t)
	dev := newTestServerWith(t, st, nil, ratelimit.Rules{})
	if code, series := scrape(t, dev.URL, ""); code != http.StatusOK || !series {
		t.Errorf("development server: /metrics %d (series %v), want 200", code, series)
	}

	prod := newTestServerWith(t, st, nil, ratelimit.Rules{}, "-public-url", "https://chat.example.com")
	if code, series := scrape(t, prod.URL, ""); code != http.StatusForbidden || series {
		t.Errorf("production without a token: /metrics %d (series %v), want 403", code, series)
	}

	const token = "a-metrics-token-of-32-characters"
	guarded := newTestServerWith(t, st, nil, ratelimit.Rules{}, "-public-url", "https://chat.example.com", "-metrics-token", token)
	for _, auth := range []string{"", "Bearer wrong-token-of-32-characters-x", "Basic " + token, token} {
		if code, series := scrape(t, guarded.URL, auth); code != http.StatusUnauthorized || series {
			t.Errorf("token set, Authorization %q: /metrics %d (series %v), want 401", auth, code, series)
		}
	}
	if code, series := scrape(t, guarded.URL, "Bearer "+token); code != http.StatusOK || !series {
		t.Errorf("with the bearer token: /metrics %d (series %v), want 200", code, series)
	}

	apart := newTestServerWith(t, st, nil, ratelimit.Rules{}, "-public-url", "https://chat.example.com", "-metrics-addr", "127.0.0.1:0")
	if code, series := scrape(t, apart.URL, ""); code != http.StatusNotFound || series {
		t.Errorf("PARLEY_METRICS_ADDR set: public /metrics %d (series %v), want 404", code, series)
	}
	own := httptest.NewServer(apart.srv.MetricsHandler()) // what Run serves on PARLEY_METRICS_ADDR
	defer own.Close()
	if code, series := scrape(t, own.URL, ""); code != http.StatusOK || !series {
		t.Errorf("PARLEY_METRICS_ADDR's listener: /metrics %d (series %v), want 200", code, series)
	}
}
