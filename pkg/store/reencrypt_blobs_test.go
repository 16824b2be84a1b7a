package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/blob"
	"github.com/parleychat/parley/pkg/keyring"
)

// After a key rotation, ReencryptBlobs reseals each sealed attachment's
// bytes under the new key in its blob store: they open once the old key is
// gone; a second run rewrites nothing.
func TestReencryptBlobsResealsAttachmentBytes(t *testing.T) {
	ctx := context.Background()
	blobs := blob.Dir{Root: t.TempDir()}
	rot := NewKeyRotation(t)
	s1 := rot.Old()
	ws, site := Workspace{ID: uuid.NewString(), Name: "Acme"}, Site{ID: uuid.NewString(), Name: "acme.test", Secret: "s"}
	if err := s1.CreateWorkspace(ctx, ws, site, Agent{ID: uuid.NewString(), Email: "ann@acme.test", Name: "Ann", Role: "admin", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	sc := s1.Workspace(ws.ID)
	v, err := sc.CreateVisitor(ctx, Visitor{ID: uuid.NewString(), SiteID: site.ID, CreatedAt: time.Now(), LastSeenAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.CreateConversation(ctx, Conversation{ID: uuid.NewString(), SiteID: site.ID, VisitorID: v.ID, Status: "queued", CreatedAt: time.Now(), UpdatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for i, data := range [][]byte{[]byte("%PDF-1.4 invoice"), bytes.Repeat([]byte("photo"), 1000)} {
		id := uuid.NewString()
		key := ws.ID + "/" + c.ID + "/" + id
		sealed, ok, err := s1.SealBlob(id, data)
		if err != nil || !ok || blobs.Put(ctx, key, sealed) != nil {
			t.Fatal(err)
		}
		if _, _, err := sc.CreateAttachment(ctx, Attachment{ID: id, ConversationID: c.ID, ClientID: "f" + string(rune('0'+i)), AuthorKind: "visitor",
			AuthorID: v.ID, Name: "f", ContentType: "application/octet-stream", Size: int64(len(data)), BlobKey: key, Sealed: true}); err != nil {
			t.Fatal(err)
		}
		files[id] = data
	}
	s2, ring2 := rot.Rotated()
	if _, err := s2.Reencrypt(ctx, ring2); err != nil { // the rows, as `signaling reencrypt` does first
		t.Fatal(err)
	}
	if n, err := s2.ReencryptBlobs(ctx, ring2, blobs); err != nil || n != 2 {
		t.Fatalf("resealed %d files: %v", n, err)
	}
	if n, err := s2.ReencryptBlobs(ctx, ring2, blobs); err != nil || n != 0 {
		t.Fatalf("a second run resealed %d: %v", n, err)
	}
	s3 := rot.Final() // the old key is gone
	for id, want := range files {
		a, err := s3.Workspace(ws.ID).Attachment(ctx, c.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := blobs.Get(ctx, a.BlobKey)
		if err != nil {
			t.Fatal(err)
		}
		if kid, _ := keyring.KeyID(string(raw)); kid != "k2" {
			t.Fatalf("%s under %q", id, kid)
		}
		got, err := s3.OpenBlob(a, raw)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after rotation: %v", id, err)
		}
	}
}
