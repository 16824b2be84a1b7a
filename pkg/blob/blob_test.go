package blob_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/parleychat/parley/pkg/blob"
)

// NewFakeS3 starts an S3 protocol server (gofakes3, in memory) with one
// bucket and returns its config.
func newFakeS3(t *testing.T) blob.S3Config {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("parley"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return blob.S3Config{Endpoint: srv.URL, Bucket: "parley", Region: "us-east-1", AccessKey: "test", SecretKey: "test-secret"}
}

func TestStores(t *testing.T) {
	s3, err := blob.NewS3(newFakeS3(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]blob.Store{"dir": blob.Dir{Root: t.TempDir()}, "s3": s3} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			data := bytes.Repeat([]byte("parley "), 100_000)
			if err := st.Put(ctx, "ws/conv/a1", data); err != nil {
				t.Fatal(err)
			}
			if err := st.Put(ctx, "ws/conv/a1", data); err != nil { // a retried put
				t.Fatal(err)
			}
			got, err := st.Get(ctx, "ws/conv/a1")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("get: %d bytes, %v", len(got), err)
			}
			if err := st.Delete(ctx, "ws/conv/a1"); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Get(ctx, "ws/conv/a1"); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("get after delete: %v, want ErrNotFound", err)
			}
			if err := st.Delete(ctx, "ws/conv/a1"); err != nil {
				t.Fatalf("delete of a missing blob: %v", err)
			}
			for _, bad := range []string{"../etc/passwd", "a/../../b", "/abs", ""} {
				if err := st.Put(ctx, bad, data); err == nil {
					t.Errorf("put %q: no error", bad)
				}
			}
		})
	}
}
