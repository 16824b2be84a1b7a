package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/parleychat/parley/pkg/blob"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A 1×1 PNG, a PDF head and two files that would run script if a browser
// rendered them as documents.
var (
	pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
	pdfBytes = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	htmlFile = []byte("<!DOCTYPE html><html><body><script>parent.pwned=1</script></body></html>")
	svgFile  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="parent.pwned=1"><script>parent.pwned=1</script></svg>`)
)

type uploadResult struct {
	Ack        protocol.Ack        `json:"ack"`
	Attachment protocol.Attachment `json:"attachment"`
	Error      string              `json:"error"`
	Code       string              `json:"code"`
}

// upload posts a file as the widget (token) or the dashboard (session) does.
func upload(t *testing.T, hc *http.Client, url, token, csrf, clientID, name string, data []byte) (int, uploadResult) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("client_id", clientID)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", strings.SplitN(url, "/api/", 2)[0])
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out uploadResult
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func download(t *testing.T, hc *http.Client, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Origin", strings.SplitN(url, "/api/", 2)[0])
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// nextMessage reads frames until a message with the client id comes.
func (c *client) messageWithID(clientID string) protocol.Message {
	for {
		var m protocol.Message
		c.next(protocol.TypeMessage, &m)
		if m.ClientID == clientID {
			return m
		}
	}
}

// checkSandboxed: a file response can never run script, whatever it is.
func checkSandboxed(t *testing.T, res *http.Response, disposition string) {
	t.Helper()
	h := res.Header
	if h.Get("Content-Security-Policy") != "sandbox; default-src 'none'" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("file served without its sandbox: CSP %q, nosniff %q", h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"))
	}
	if d := h.Get("Content-Disposition"); !strings.HasPrefix(d, disposition+";") {
		t.Errorf("Content-Disposition %q, want %s", d, disposition)
	}
}

// Files both ways: the visitor sends an image, the agent hears of it live,
// sees it inline and downloads it; the agent sends a PDF, the visitor gets
// it as a download. Limits are refused with a clear code, HTML and SVG are
// served inert, strangers get 404, a resend stores one file, and deleting
// the visitor deletes their files.
func TestAttachmentsBothWays(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, st)
			testAttachments(t, ts, st, func(prefix string) int {
				es, _ := os.ReadDir(filepath.Join(ts.srv.cfg.DataDir, "attachments", filepath.FromSlash(prefix)))
				return len(es)
			})
		})
	}
}

// The same against an S3 protocol server (gofakes3) when PARLEY_S3_* is set.
func TestAttachmentsInS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("parley-files"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	st := storetest.SQLite(t)
	ts := newTestServerWith(t, st, nil, ratelimit.Rules{}, "-s3-endpoint", s3srv.URL, "-s3-bucket", "parley-files",
		"-s3-access-key", "test", "-s3-secret-key", "test-secret")
	if _, ok := ts.srv.blobs.(*blob.S3); !ok {
		t.Fatalf("blobs are %T, want S3", ts.srv.blobs)
	}
	testAttachments(t, ts, st, func(prefix string) int {
		list, err := backend.ListBucket("parley-files", &gofakes3.Prefix{HasPrefix: true, Prefix: prefix + "/"}, gofakes3.ListBucketPage{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Contents)
	})
}

// files counts the blobs stored under a prefix (a conversation's).
func testAttachments(t *testing.T, ts *testServer, st *store.Store, files func(prefix string) int) {
	ctx := context.Background()
	admin := ts.signIn(t, "admin@parley.local", adminPassword)
	ag := admin.socket(t)
	v, token := ts.visitorOnPage(t, "https://shop.example/")
	conv := v.start()
	convFiles := func() int { return files(ts.site.WorkspaceID + "/" + conv.ID) }
	base := ts.URL + "/api/widget/conversations/" + conv.ID + "/attachments"
	agentBase := ts.URL + "/api/conversations/" + conv.ID + "/attachments"

	// The visitor sends an image; the sender's claim of a type is ignored.
	code, up := upload(t, http.DefaultClient, base, token, "", "img-1", "../../etc/photo.png", pngBytes)
	if code != http.StatusOK || up.Ack.Seq == 0 || up.Attachment.Type != "image/png" || !up.Attachment.Image || up.Attachment.Name != "photo.png" {
		t.Fatalf("visitor upload: %d %+v", code, up)
	}
	m := ag.messageWithID("img-1")
	if m.Attachment == nil || m.Attachment.ID != up.Attachment.ID || m.Body != "photo.png" || m.Author.Kind != protocol.AuthorVisitor {
		t.Fatalf("agent heard %+v", m)
	}
	res, b := download(t, admin.hc, agentBase+"/"+up.Attachment.ID, "")
	if res.StatusCode != 200 || !bytes.Equal(b, pngBytes) || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("agent download: %d %q %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(b))
	}
	checkSandboxed(t, res, "inline")
	res, _ = download(t, admin.hc, agentBase+"/"+up.Attachment.ID+"?download=1", "")
	checkSandboxed(t, res, "attachment")

	// A resend with the same client id (the answer was lost): the same
	// ack, one row, one file.
	code, again := upload(t, http.DefaultClient, base, token, "", "img-1", "photo.png", pngBytes)
	if code != http.StatusOK || again.Ack.Seq != up.Ack.Seq || again.Attachment.ID != up.Attachment.ID {
		t.Fatalf("resend: %d %+v, first %+v", code, again, up)
	}
	row, err := st.Workspace(ts.site.WorkspaceID).Attachment(ctx, conv.ID, up.Attachment.ID)
	if err != nil || convFiles() != 1 {
		t.Fatalf("stored row %+v %v; %d files stored, want 1", row, err, convFiles())
	}
	// A cut after the file and its row, before the message: the resend
	// completes the message without a second file.
	cutID := attachmentID(ts.site.WorkspaceID, conv.ID, "cut-1")
	cutKey := ts.site.WorkspaceID + "/" + conv.ID + "/" + cutID
	sealed, isSealed, err := st.SealBlob(cutID, pngBytes)
	if err != nil || ts.srv.blobs.Put(ctx, cutKey, sealed) != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Workspace(ts.site.WorkspaceID).CreateAttachment(ctx, store.Attachment{
		ID: cutID, ConversationID: conv.ID, ClientID: "cut-1", AuthorKind: "visitor", Sealed: isSealed,
		AuthorID: conv.VisitorID, Name: "cut.png", ContentType: "image/png", Size: int64(len(pngBytes)), BlobKey: cutKey,
	}); err != nil {
		t.Fatal(err)
	}
	code, cut := upload(t, http.DefaultClient, base, token, "", "cut-1", "cut.png", pngBytes)
	if code != http.StatusOK || cut.Ack.Seq != up.Ack.Seq+1 || cut.Attachment.Name != "cut.png" {
		t.Fatalf("resend after a cut: %d %+v", code, cut)
	}
	if n := convFiles(); n != 2 {
		t.Fatalf("%d files after the resend of a cut upload, want 2", n)
	}

	// At rest the bytes are sealed, like message bodies.
	raw, err := ts.srv.blobs.Get(ctx, row.BlobKey)
	if err != nil || bytes.Contains(raw, []byte("IHDR")) || !row.Sealed {
		t.Fatalf("blob at rest: sealed=%v, plain PNG inside: %v, %v", row.Sealed, bytes.Contains(raw, []byte("IHDR")), err)
	}

	// The agent sends a PDF; the visitor hears it and downloads it.
	code, pdf := upload(t, admin.hc, agentBase, "", admin.csrf, "pdf-1", "invoice.pdf", pdfBytes)
	if code != http.StatusOK || pdf.Attachment.Type != "application/pdf" || pdf.Attachment.Image {
		t.Fatalf("agent upload: %d %+v", code, pdf)
	}
	vm := v.messageWithID("pdf-1")
	if vm.Attachment == nil || vm.Attachment.Name != "invoice.pdf" || vm.Author.Kind != protocol.AuthorAgent {
		t.Fatalf("visitor heard %+v", vm)
	}
	res, b = download(t, http.DefaultClient, base+"/"+pdf.Attachment.ID, token)
	if res.StatusCode != 200 || !bytes.Equal(b, pdfBytes) {
		t.Fatalf("visitor download: %d %d bytes", res.StatusCode, len(b))
	}
	checkSandboxed(t, res, "attachment")
	// The history carries the attachment too (a reload, a resume).
	var hist struct{ Messages []protocol.Message }
	admin.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &hist)
	found := false
	for _, m := range hist.Messages {
		found = found || (m.ClientID == "pdf-1" && m.Attachment != nil && m.Attachment.Type == "application/pdf")
	}
	if !found {
		t.Fatalf("history has no attachment: %+v", hist.Messages)
	}

	// Strangers: another visitor, a made-up file, no token.
	_, stranger := ts.visitorOnPage(t, "https://shop.example/")
	for _, tc := range []struct{ url, token string }{
		{base + "/" + pdf.Attachment.ID, stranger},
		{base + "/" + "00000000-0000-0000-0000-000000000000", token},
	} {
		if res, _ := download(t, http.DefaultClient, tc.url, tc.token); res.StatusCode != http.StatusNotFound {
			t.Errorf("stranger's download %s: %d, want 404", tc.url, res.StatusCode)
		}
	}
	if res, _ := download(t, http.DefaultClient, base+"/"+pdf.Attachment.ID, ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("download without a token: %d, want 401", res.StatusCode)
	}
	if code, out := upload(t, http.DefaultClient, base, stranger, "", "x-1", "a.png", pngBytes); code != http.StatusNotFound || out.Code != protocol.CodeNotFound {
		t.Errorf("stranger's upload: %d %+v, want 404", code, out)
	}

	// Limits: size and type, with a clear error and code.
	sc := st.Workspace(ts.site.WorkspaceID)
	site, _ := sc.Site(ctx, ts.site.ID)
	set := site.Settings()
	set.AttachMaxBytes = 1024
	if err := sc.UpdateSiteSettings(ctx, site.ID, set); err != nil {
		t.Fatal(err)
	}
	if code, out := upload(t, http.DefaultClient, base, token, "", "big-1", "big.txt", bytes.Repeat([]byte("a"), 2048)); code != http.StatusRequestEntityTooLarge || out.Code != protocol.CodeTooBig || !strings.Contains(out.Error, "1 KB") {
		t.Errorf("too big: %d %+v", code, out)
	}
	if code, out := upload(t, http.DefaultClient, base, token, "", "html-1", "page.png", htmlFile); code != http.StatusUnsupportedMediaType || out.Code != "unsupported_type" || !strings.Contains(out.Error, "text/html") {
		t.Errorf("HTML with the default types: %d %+v", code, out)
	}
	if code, out := upload(t, http.DefaultClient, base, token, "", "empty-1", "e.txt", nil); code != http.StatusBadRequest || out.Code != protocol.CodeInvalid {
		t.Errorf("empty file: %d %+v", code, out)
	}
	// A site that takes HTML still never serves it as a page; an SVG is
	// text to the sniffer, and is downloaded as text.
	var patched struct {
		Site siteJSON
	}
	if code := admin.call(t, "PATCH", "/api/sites/"+site.ID, map[string]any{"attachments": map[string]any{"max_bytes": 0, "types": []string{"text/html", "text/plain", "image/png"}}}, &patched); code != 200 ||
		patched.Site.Attachments.MaxBytes != defaultAttachMaxBytes || len(patched.Site.Attachments.Types) != 3 {
		t.Fatalf("site limits: %d %+v", code, patched.Site.Attachments)
	}
	var e struct{ Code string }
	if code := admin.call(t, "PATCH", "/api/sites/"+site.ID, map[string]any{"attachments": map[string]any{"types": []string{"text/html; charset=x"}}}, &e); code != 400 || e.Code != protocol.CodeInvalid {
		t.Errorf("bad type: %d %q", code, e.Code)
	}
	for _, f := range []struct {
		name, ctype string
		data        []byte
	}{{"x.html", "text/html; charset=utf-8", htmlFile}, {"x.svg", "text/plain; charset=utf-8", svgFile}} {
		code, out := upload(t, http.DefaultClient, base, token, "", "inert-"+f.name, f.name, f.data)
		if code != http.StatusOK || out.Attachment.Image {
			t.Fatalf("%s: %d %+v", f.name, code, out)
		}
		res, _ := download(t, admin.hc, agentBase+"/"+out.Attachment.ID, "")
		checkSandboxed(t, res, "attachment")
		if res.Header.Get("Content-Type") != f.ctype {
			t.Errorf("%s served as %q, want %q", f.name, res.Header.Get("Content-Type"), f.ctype)
		}
	}

	// Deleting the visitor deletes their files.
	if code := admin.call(t, "DELETE", "/api/visitors/"+conv.VisitorID, nil, nil); code != 200 {
		t.Fatalf("delete visitor: %d", code)
	}
	if n := convFiles(); n != 0 {
		t.Errorf("%d of the deleted visitor's files are still stored", n)
	}
	if _, err := ts.srv.blobs.Get(ctx, row.BlobKey); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("blob after delete: %v", err)
	}
	if res, _ := download(t, admin.hc, agentBase+"/"+pdf.Attachment.ID, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("download after delete: %d", res.StatusCode)
	}
}
