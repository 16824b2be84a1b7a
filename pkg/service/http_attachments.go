package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/blob"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Attachments: a visitor or an agent sends a file in a conversation
// (multipart POST, the file and its client_id), the other side downloads it.
//
//   - What a file is comes from its bytes (http.DetectContentType), never
//     from the sender; the site says which types and how large
//     (protocol.AttachmentLimits, set by admins with the site).
//   - Raster images are served inline; anything else as a download. Every
//     file response is sandboxed (CSP sandbox, default-src 'none') and
//     nosniff: an HTML or SVG upload is inert even if opened directly.
//   - Only the conversation's participants read a file: its visitor (by
//     token) and the workspace's agents; anyone else gets 404.
//   - The delivery promise of messages: the file's bytes, then its row,
//     then its message are committed before the answer (the ack). A resend
//     with the same client id finds the row, stores no second file, and
//     completes the message if the first attempt was cut before it. The
//     blob's key comes from (conversation, client id), so even a cut
//     between the bytes and the row leaves one file.
//   - The bytes are sealed with the store's keyring when encryption at
//     rest is on, like message bodies; so is the file's name.

// Defaults for a site that set no limits, and the largest limit an admin
// may set.
const (
	defaultAttachMaxBytes = 10 << 20
	maxAttachMaxBytes     = 50 << 20
)

// defaultAttachTypes are the types a site accepts unless its admin chose:
// raster images, PDF, plain text (CSV too: sniffing calls it text) and
// ZIP (office documents are ZIP files to a sniffer).
var defaultAttachTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "application/zip"}

// inlineTypes are the only types served inline: raster images, which a
// browser decodes and never runs.
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// attachLimits are a site's limits with the defaults filled in.
func attachLimits(site store.Site) protocol.AttachmentLimits {
	out := protocol.AttachmentLimits{MaxBytes: site.AttachMaxBytes, Types: strings.Fields(site.AttachTypes)}
	if out.MaxBytes <= 0 {
		out.MaxBytes = defaultAttachMaxBytes
	}
	if len(out.Types) == 0 {
		out.Types = defaultAttachTypes
	}
	return out
}

// checkAttachTypes checks the types an admin lists: MIME types without
// parameters, at most 30.
func checkAttachTypes(types []string) ([]string, error) {
	if len(types) > 30 {
		return nil, apierr.Invalid("at most 30 attachment types")
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || mt != t || !strings.Contains(t, "/") {
			return nil, apierr.Invalid("an attachment type is a MIME type such as image/png, got " + store.Truncate(t, 40))
		}
		if !containsString(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// OpenBlobs returns where attachments' bytes are kept: the S3-compatible
// bucket when PARLEY_S3_ENDPOINT is set, else the data dir.
func OpenBlobs(cfg config.Config) (blob.Store, error) {
	if cfg.S3Endpoint == "" {
		return blob.Dir{Root: filepath.Join(cfg.DataDir, "attachments")}, nil
	}
	return blob.NewS3(blob.S3Config{Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket, Region: cfg.S3Region,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey})
}

// attachmentStore is what the attachments API needs of one workspace's
// store.
type attachmentStore interface {
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	Site(ctx context.Context, id string) (store.Site, error)
	CreateAttachment(ctx context.Context, a store.Attachment) (store.Attachment, bool, error)
	AttachmentByClient(ctx context.Context, convID, clientID string) (store.Attachment, error)
	Attachment(ctx context.Context, convID, id string) (store.Attachment, error)
}

// attachmentsAPI serves the attachments of conversations to both sides.
type attachmentsAPI struct {
	store   func(ws string) attachmentStore
	blobs   blob.Store
	seal    func(id string, data []byte) ([]byte, bool, error)
	open    func(a store.Attachment, data []byte) ([]byte, error)
	canSee  func(ctx context.Context, p conversation.Participant, convID string) error
	send    func(ctx context.Context, p conversation.Participant, f protocol.Send, att protocol.Attachment) (protocol.Ack, error)
	visitor func(c *gin.Context, token string) (conversation.Participant, store.Visitor, error)
}

func (s *Server) attachmentsAPI() *attachmentsAPI {
	return &attachmentsAPI{
		store:   func(ws string) attachmentStore { return s.store.Workspace(ws) },
		blobs:   s.blobs,
		seal:    s.store.SealBlob,
		open:    s.store.OpenBlob,
		canSee:  s.conv.CanSee,
		send:    s.conv.SendAttachment,
		visitor: s.visitorOf,
	}
}

// bearer is the visitor token a widget request carries in Authorization.
func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func (a *attachmentsAPI) visitorUpload(c *gin.Context) error {
	p, _, err := a.visitor(c, bearer(c))
	if err != nil {
		return err
	}
	return a.upload(c, p)
}

func (a *attachmentsAPI) agentUpload(c *gin.Context) error {
	return a.upload(c, agentParticipant(agentOf(c)))
}

func (a *attachmentsAPI) visitorDownload(c *gin.Context) error {
	p, _, err := a.visitor(c, bearer(c))
	if err != nil {
		return err
	}
	return a.download(c, p)
}

func (a *attachmentsAPI) agentDownload(c *gin.Context) error {
	return a.download(c, agentParticipant(agentOf(c)))
}

// attachmentInfo is what participants see of a stored attachment.
func attachmentInfo(at store.Attachment) protocol.Attachment {
	return protocol.Attachment{ID: at.ID, Name: at.Name, Type: at.ContentType, Size: at.Size, Image: inlineTypes[at.ContentType]}
}

// attachmentID is the id (and blob key part) of the attachment a client
// sends with clientID in a conversation: the same for every resend.
func attachmentID(ws, convID, clientID string) string {
	h := sha256.Sum256([]byte(ws + "\x00" + convID + "\x00" + clientID))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// upload stores a file sent by p and the message that carries it.
func (a *attachmentsAPI) upload(c *gin.Context, p conversation.Participant) error {
	ctx := c.Request.Context()
	convID := c.Param("id")
	if err := a.canSee(ctx, p, convID); err != nil {
		return serviceErr(err, "cannot read this conversation")
	}
	sc := a.store(p.WorkspaceID)
	conv, err := sc.Conversation(ctx, convID)
	if err != nil {
		return conversationErr(err, "read the conversation")
	}
	site, err := sc.Site(ctx, conv.SiteID)
	if err != nil {
		return siteErr(err, "read the site")
	}
	limits := attachLimits(site)
	tooBig := apierr.TooBig(fmt.Sprintf("the file is larger than this site's limit of %s", humanBytes(limits.MaxBytes)))
	if c.Request.ContentLength > limits.MaxBytes+64<<10 {
		return tooBig // refused before reading it
	}
	if err := c.Request.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooBig
		}
		return apierr.Invalid("the upload is a multipart form with client_id and file")
	}
	clientID := c.Request.PostFormValue("client_id")
	if clientID == "" || len(clientID) > protocol.MaxClientIDLen || strings.HasPrefix(clientID, protocol.SystemClientIDPrefix) {
		return apierr.Invalid(fmt.Sprintf("the form needs a client_id of 1..%d characters, not beginning with %q", protocol.MaxClientIDLen, protocol.SystemClientIDPrefix))
	}
	at, err := sc.AttachmentByClient(ctx, convID, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if at, err = a.store1(c, p, sc, convID, clientID, limits, tooBig); err != nil {
			return err
		}
	case err != nil:
		return apierr.Unavailable("cannot store the file right now; retry", err)
	}
	// The row is committed: the message completes the send (a resend
	// after a cut gets here with the first attempt's row).
	info := attachmentInfo(at)
	ack, err := a.send(ctx, p, protocol.Send{ClientID: clientID, Conversation: convID, Body: at.Name}, info)
	if err != nil {
		return serviceErrSays(err, "cannot send the file right now; retry")
	}
	c.JSON(http.StatusOK, gin.H{"ack": ack, "attachment": info})
	return nil
}

// store1 checks the uploaded file against the site's limits and stores its
// bytes, then its row.
func (a *attachmentsAPI) store1(c *gin.Context, p conversation.Participant, sc attachmentStore, convID, clientID string, limits protocol.AttachmentLimits, tooBig error) (store.Attachment, error) {
	ctx := c.Request.Context()
	_, fh, err := c.Request.FormFile("file")
	if err != nil {
		return store.Attachment{}, apierr.Invalid("the form has no file")
	}
	if fh.Size > limits.MaxBytes {
		return store.Attachment{}, tooBig
	}
	if fh.Size == 0 {
		return store.Attachment{}, apierr.Invalid("the file is empty")
	}
	f, err := fh.Open()
	if err != nil {
		return store.Attachment{}, apierr.Invalid("cannot read the file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxBytes+1))
	f.Close()
	if err != nil {
		return store.Attachment{}, apierr.Invalid("cannot read the file")
	}
	if int64(len(data)) > limits.MaxBytes {
		return store.Attachment{}, tooBig
	}
	ctype, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if !containsString(limits.Types, ctype) {
		return store.Attachment{}, apierr.New(http.StatusUnsupportedMediaType, "unsupported_type",
			fmt.Sprintf("files of type %s are not accepted here; this site takes %s", ctype, strings.Join(limits.Types, ", ")))
	}
	id := attachmentID(p.WorkspaceID, convID, clientID)
	sealed, isSealed, err := a.seal(id, data)
	if err != nil {
		return store.Attachment{}, apierr.Unavailable("cannot store the file right now; retry", err)
	}
	key := p.WorkspaceID + "/" + convID + "/" + id
	if err := a.blobs.Put(ctx, key, sealed); err != nil {
		return store.Attachment{}, apierr.Unavailable("cannot store the file right now; retry", err)
	}
	at, _, err := sc.CreateAttachment(ctx, store.Attachment{
		ID: id, ConversationID: convID, ClientID: clientID, AuthorKind: p.Kind, AuthorID: p.ID,
		Name: fileName(fh.Filename), ContentType: ctype, Size: int64(len(data)), BlobKey: key, Sealed: isSealed,
	})
	if err != nil {
		return store.Attachment{}, apierr.Unavailable("cannot store the file right now; retry", err)
	}
	return at, nil
}

// fileName keeps the base name a sender gave, printable, at most 200
// characters; "file" when nothing is left.
func fileName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == '"' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

func humanBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	if n >= 1<<10 {
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// download serves one file of a conversation p may see.
func (a *attachmentsAPI) download(c *gin.Context, p conversation.Participant) error {
	ctx := c.Request.Context()
	convID := c.Param("id")
	if err := a.canSee(ctx, p, convID); err != nil {
		return serviceErr(err, "cannot read this conversation")
	}
	at, err := a.store(p.WorkspaceID).Attachment(ctx, convID, c.Param("aid"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such file")
	}
	if err != nil {
		return apierr.Unavailable("cannot read the file right now; retry", err)
	}
	raw, err := a.blobs.Get(ctx, at.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return apierr.NotFound("no such file")
	}
	if err != nil {
		return apierr.Unavailable("cannot read the file right now; retry", err)
	}
	data, err := a.open(at, raw)
	if err != nil {
		return apierr.Unavailable("cannot read the file right now", err)
	}
	h := c.Writer.Header()
	// Whatever the bytes are, they never run: no script, no plugin, no
	// same-origin access, no type guessing, no embedding by other sites.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, max-age=300")
	disposition := "attachment"
	if inlineTypes[at.ContentType] && c.Query("download") == "" {
		disposition = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": at.Name}))
	ctype := at.ContentType
	if strings.HasPrefix(ctype, "text/") {
		ctype += "; charset=utf-8"
	}
	c.Data(http.StatusOK, ctype, data)
	return nil
}
