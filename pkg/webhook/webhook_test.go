package webhook_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/webhook"
)

func TestSignatureChecksBodyTimestampAndSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"message.created"}`)
	sig := webhook.Sign("whsec_1", now, body)
	ts := strconv.FormatInt(now.Unix(), 10)
	if err := webhook.Verify("whsec_1", ts, sig, body, now.Add(time.Minute)); err != nil {
		t.Fatalf("a good delivery: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, ts, sig string
		body            []byte
		at              time.Time
		want            error
	}{
		"another body":      {"whsec_1", ts, sig, []byte(`{"type":"message.created" }`), now, webhook.ErrBadSignature},
		"another secret":    {"whsec_2", ts, sig, body, now, webhook.ErrBadSignature},
		"another timestamp": {"whsec_1", strconv.FormatInt(now.Unix()+1, 10), sig, body, now, webhook.ErrBadSignature},
		"replayed too late": {"whsec_1", ts, sig, body, now.Add(webhook.ReplayWindow + time.Second), webhook.ErrStale},
		"from the future":   {"whsec_1", ts, sig, body, now.Add(-webhook.ReplayWindow - time.Second), webhook.ErrStale},
		"not a timestamp":   {"whsec_1", "yesterday", sig, body, now, webhook.ErrStale},
		"no signature":      {"whsec_1", ts, "", body, now, webhook.ErrBadSignature},
	} {
		if err := webhook.Verify(tc.secret, tc.ts, tc.sig, tc.body, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestBackoffDoublesUpToTheCapWithJitter(t *testing.T) {
	base, max := time.Second, time.Minute
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second, 7: time.Minute, 20: time.Minute} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := webhook.Backoff(n, base, max)
			if d > want || d < want-want/3 {
				t.Fatalf("attempt %d waits %v, want within [%v, %v]", n, d, want-want/3, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d always waits %v: no jitter", n, webhook.Backoff(n, base, max))
		}
	}
}

func TestURLsAreHTTPAndPublicUnlessAllowed(t *testing.T) {
	for _, raw := range []string{"ftp://example.com/x", "example.com/hook", "https://", "https://user:pw@example.com/",
		"http://127.0.0.1:8080/", "http://[::1]/", "http://10.1.2.3/", "http://192.168.1.1/", "http://169.254.169.254/latest", "http://0.0.0.0/", "http://100.64.0.1/"} {
		if _, err := webhook.CheckURL(raw, false); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
	for _, raw := range []string{"https://hooks.example.com/parley", "http://93.184.215.14:8080/x"} {
		if _, err := webhook.CheckURL(raw, false); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
	if _, err := webhook.CheckURL("http://127.0.0.1:8080/", true); err != nil {
		t.Errorf("loopback refused with private targets allowed: %v", err)
	}
	if webhook.Public(netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Error("an IPv4-mapped loopback address counts as public")
	}
}

// The client checks the address it is about to dial, whatever name led
// there: a host name that resolves to loopback is refused too.
func TestClientRefusesToDialPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	for _, u := range []string{srv.URL, "http://localhost:" + strconv.Itoa(int(ap.Port()))} {
		if res, err := webhook.Client(2*time.Second, false).Post(u, "application/json", nil); err == nil {
			res.Body.Close()
			t.Errorf("%s reached with private targets refused", u)
		}
	}
	res, err := webhook.Client(2*time.Second, true).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatalf("with private targets allowed: %v", err)
	}
	res.Body.Close()
}
