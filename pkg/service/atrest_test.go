package service

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Every personal field README lists as encrypted is sealed on disk: the
// raw bytes of the SQLite database (and its write-ahead log) hold no
// plaintext of a verified visitor's name and email, of a message body, or
// of an offline contact, while the server reads them all back. (A
// verified name used to sit in clear in messages.author_name.)
func TestPersonalDataIsSealedOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := store.Open(ctx, path, store.WithSealer(storetest.Keyring(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := newTestServer(t, st)

	const name, email, body = "Plantedname Quixotic", "planted.quixotic@example.com", "planted body: my card ends 4242"
	now := time.Now()
	code, out := ts.session(t, widgetSessionReq{IdentityToken: identityJWT([]byte(ts.site.Secret),
		map[string]any{"sub": "u-planted", "name": name, "email": email, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})})
	if code != http.StatusOK {
		t.Fatalf("verified session: %d", code)
	}
	v := dial(t, ts.wsURL("/ws/visitor?token="+out.Token), http.Header{"Origin": {ts.origin()}})
	v.hello(nil)
	conv := v.start()
	v.sendMsg(conv.ID, "m1", body)

	const contact, contactEmail, offline = "Contactname Zebulon", "contact.zebulon@example.com", "planted offline message"
	req, _ := http.NewRequest("POST", ts.URL+"/api/widget/offline", strings.NewReader(
		`{"token":"`+ts.visitorToken(t)+`","name":"`+contact+`","email":"`+contactEmail+`","message":"`+offline+`"}`))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("offline message: %d", res.StatusCode)
	}

	// The server reads them back.
	ms, err := st.Workspace(ts.site.WorkspaceID).MessagesAfter(ctx, conv.ID, 0, 10)
	if err != nil || len(ms) == 0 || ms[len(ms)-1].AuthorName != name || ms[len(ms)-1].Body != body {
		t.Fatalf("messages read back: %+v %v", ms, err)
	}

	var raw []byte
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	if len(raw) == 0 {
		t.Fatal("nothing read from the database files")
	}
	for _, planted := range []string{name, email, body, contact, contactEmail, offline} {
		if bytes.Contains(raw, []byte(planted)) {
			t.Errorf("the database file holds %q in clear", planted)
		}
	}
}
