package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/webhook"
)

// Webhooks: a workspace's admins subscribe URLs to conversation events
// (conversation.EventTypes). When an event happens (conversation.Service
// emits it after the store has it), one delivery per subscribed webhook is
// stored; a worker on every node (runWebhooks) claims due deliveries and
// POSTs them, signed (pkg/webhook), retrying failures with exponential
// back-off and jitter, so deliveries outlast a restart and a node's death.
// The delivery log and its replay are in the dashboard (Settings →
// Webhooks).

const (
	// webhookAttempts: a delivery is given up after this many attempts
	// (with the 30 s default base, about a day of retries).
	webhookAttempts = 12
	webhookMaxWait  = 6 * time.Hour
	// webhookLease: how long a node holds a delivery it sends; longer
	// than the attempt's timeout, so two nodes never send it at once.
	webhookLeaseExtra = 30 * time.Second
	// maxWebhooks per workspace, maxPayload of one event.
	maxWebhooks = 20
	maxPayload  = 256 << 10
	// webhookCacheTTL: how long a node trusts its list of a workspace's
	// webhooks; a change on another node applies within it.
	webhookCacheTTL = 10 * time.Second
)

// hookStore is what the webhooks API needs of one workspace's store.
type hookStore interface {
	CreateWebhook(ctx context.Context, w store.Webhook) error
	Webhooks(ctx context.Context) ([]store.Webhook, error)
	Webhook(ctx context.Context, id string) (store.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	Deliveries(ctx context.Context, webhookID string, limit int) ([]store.WebhookDelivery, error)
	ReplayDelivery(ctx context.Context, id, newID string, now time.Time) (store.WebhookDelivery, error)
	SetWebhookDisabled(ctx context.Context, id string, disabled bool) (store.Webhook, error)
	EditWebhook(ctx context.Context, id, url, events string) (store.Webhook, error)
	RotateWebhookSecret(ctx context.Context, id, secret string) (store.Webhook, error)
	EnqueueDeliveries(ctx context.Context, ds []store.WebhookDelivery) error
}

// webhooksAPI serves the webhooks resource.
type webhooksAPI struct {
	store        func(workspaceID string) hookStore
	audit        func(c *gin.Context, workspaceID, action, target, detail string)
	allowPrivate bool
	changed      func(workspaceID string) // forget the cached list
	wake         func()                   // a delivery is due now
}

func (s *Server) webhooksAPI() *webhooksAPI {
	return &webhooksAPI{store: func(ws string) hookStore { return s.store.Workspace(ws) }, audit: s.audit,
		allowPrivate: s.cfg.WebhookAllowPrivate, changed: s.hooks.forget, wake: s.hooks.wakeUp}
}

type webhookJSON struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret signs the deliveries; only in the answer that made it.
	Secret    string    `json:"secret,omitempty"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
}

func webhookJSONOf(w store.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, URL: w.URL, Events: nonNil(splitList(w.Events)), Enabled: !w.Disabled, CreatedAt: w.CreatedAt}
}

type deliveryJSON struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	Event          string     `json:"event"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	ResponseStatus int        `json:"response_status"`
	LastError      string     `json:"last_error"`
	// ResponseExcerpt is the start of the receiver's last answer.
	ResponseExcerpt string     `json:"response_excerpt"`
	ReplayOf        string     `json:"replay_of"`
	Payload         string     `json:"payload"`
	CreatedAt       time.Time  `json:"created_at"`
	DeliveredAt     *time.Time `json:"delivered_at"`
}

func deliveryJSONOf(d store.WebhookDelivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, Event: d.Event, Status: d.Status, Attempts: d.Attempts,
		ResponseStatus: d.ResponseStatus, LastError: d.LastError, ResponseExcerpt: d.ResponseExcerpt, ReplayOf: d.ReplayOf, Payload: d.Payload,
		CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt}
	if d.Status == store.DeliveryPending {
		t := d.NextAttemptAt
		out.NextAttemptAt = &t
	}
	return out
}

func (a *webhooksAPI) list(c *gin.Context) error {
	hs, err := a.store(agentOf(c).WorkspaceID).Webhooks(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot list webhooks right now; retry", err)
	}
	out := make([]webhookJSON, len(hs))
	for i, w := range hs {
		out[i] = webhookJSONOf(w)
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": out, "event_types": conversation.EventTypes})
	return nil
}

func (a *webhooksAPI) create(c *gin.Context) error {
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	u, err := a.checkURL(req.URL)
	if err != nil {
		return err
	}
	events, err := checkEvents(req.Events)
	if err != nil {
		return err
	}
	me := agentOf(c)
	st := a.store(me.WorkspaceID)
	existing, err := st.Webhooks(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot make the webhook right now; retry", err)
	}
	if len(existing) >= maxWebhooks {
		return apierr.Conflict(fmt.Sprintf("a workspace has at most %d webhooks; delete one first", maxWebhooks))
	}
	w := store.Webhook{ID: uuid.NewString(), URL: u, Events: events, Secret: newWebhookSecret(),
		CreatedBy: me.ID, CreatedAt: time.Now().UTC()}
	if err := st.CreateWebhook(c.Request.Context(), w); err != nil {
		return apierr.Unavailable("cannot make the webhook right now; retry", err)
	}
	a.changed(me.WorkspaceID)
	a.audit(c, me.WorkspaceID, "webhook.create", w.ID, w.URL)
	out := webhookJSONOf(w)
	out.Secret = w.Secret
	c.JSON(http.StatusCreated, gin.H{"webhook": out})
	return nil
}

// checkURL is a webhook's URL as stored, or why it is refused: not
// http(s), credentials in it, or (unless the server allows them) a
// private, loopback or link-local address.
func (a *webhooksAPI) checkURL(raw string) (string, error) {
	u, err := webhook.CheckURL(raw, a.allowPrivate)
	if err != nil {
		return "", apierr.Invalid(err.Error())
	}
	return u.String(), nil
}

// checkEvents is a webhook's events as stored (comma-separated, each
// once), or why they are refused: none, or one that is not an event.
func checkEvents(req []string) (string, error) {
	if len(req) == 0 {
		return "", apierr.Invalid("choose at least one event")
	}
	var events []string
	for _, e := range req {
		if !slices.Contains(conversation.EventTypes, e) {
			return "", apierr.Invalid(fmt.Sprintf("%q is not an event; events are %v", e, conversation.EventTypes))
		}
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	return joinList(events), nil
}

// newWebhookSecret makes a signing secret: 192 random bits.
func newWebhookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

func hookErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such webhook")
	}
	return apierr.Unavailable("cannot "+what+" right now; retry", err)
}

// update answers PATCH /api/webhooks/:id {enabled} or {url, events} (one
// or both of them): a paused webhook gets no deliveries of the events that
// happen meanwhile (what was queued before still goes); an edited one gets
// the chosen events at the new URL, checked as on creation, from the next
// delivery on (those queued included), signed with the same secret.
func (a *webhooksAPI) update(c *gin.Context) error {
	var req struct {
		Enabled *bool     `json:"enabled"`
		URL     *string   `json:"url"`
		Events  *[]string `json:"events"`
	}
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if req.Enabled == nil && req.URL == nil && req.Events == nil {
		return apierr.Invalid("the body must be {enabled: true|false} or {url, events} (either or both)")
	}
	me := agentOf(c)
	st := a.store(me.WorkspaceID)
	ctx := c.Request.Context()
	var w store.Webhook
	var err error
	if req.URL != nil || req.Events != nil {
		if w, err = st.Webhook(ctx, c.Param("id")); err != nil {
			return hookErr(err, "read the webhook")
		}
		url, events := w.URL, w.Events
		if req.URL != nil {
			if url, err = a.checkURL(*req.URL); err != nil {
				return err
			}
		}
		if req.Events != nil {
			if events, err = checkEvents(*req.Events); err != nil {
				return err
			}
		}
		if w, err = st.EditWebhook(ctx, w.ID, url, events); err != nil {
			return hookErr(err, "change the webhook")
		}
		a.changed(me.WorkspaceID)
		a.audit(c, me.WorkspaceID, "webhook.edit", w.ID, w.URL+" "+w.Events)
	}
	if req.Enabled != nil {
		if w, err = st.SetWebhookDisabled(ctx, c.Param("id"), !*req.Enabled); err != nil {
			return hookErr(err, "change the webhook")
		}
		a.changed(me.WorkspaceID)
		action := "webhook.disable"
		if *req.Enabled {
			action = "webhook.enable"
		}
		a.audit(c, me.WorkspaceID, action, w.ID, w.URL)
	}
	c.JSON(http.StatusOK, gin.H{"webhook": webhookJSONOf(w)})
	return nil
}

// rotateSecret answers POST /api/webhooks/:id/secret: a new signing
// secret, shown once; deliveries from now on are signed with it.
func (a *webhooksAPI) rotateSecret(c *gin.Context) error {
	me := agentOf(c)
	w, err := a.store(me.WorkspaceID).RotateWebhookSecret(c.Request.Context(), c.Param("id"), newWebhookSecret())
	if err != nil {
		return hookErr(err, "rotate the secret")
	}
	a.changed(me.WorkspaceID)
	a.audit(c, me.WorkspaceID, "webhook.rotate_secret", w.ID, w.URL)
	out := webhookJSONOf(w)
	out.Secret = w.Secret
	c.JSON(http.StatusOK, gin.H{"webhook": out})
	return nil
}

// eventTest is the type of the event an admin sends to try a webhook; it
// goes to that webhook only, whatever it subscribes to.
const eventTest = "webhook.test"

// test answers POST /api/webhooks/:id/test: queues a signed test event to
// the webhook (even a paused one: the admin asked), delivered like any.
func (a *webhooksAPI) test(c *gin.Context) error {
	me := agentOf(c)
	st := a.store(me.WorkspaceID)
	w, err := st.Webhook(c.Request.Context(), c.Param("id"))
	if err != nil {
		return hookErr(err, "read the webhook")
	}
	now := time.Now().UTC()
	body := eventJSON{ID: "evt_" + uuid.NewString(), Type: eventTest, CreatedAt: now, WorkspaceID: me.WorkspaceID,
		Data: eventData{AgentID: me.ID, Detail: map[string]any{"message": "A test event sent from the dashboard."}}}
	payload, _ := json.Marshal(body)
	d := store.WebhookDelivery{ID: uuid.NewString(), WebhookID: w.ID, EventID: body.ID, Event: eventTest,
		Payload: string(payload), NextAttemptAt: now, CreatedAt: now}
	if err := st.EnqueueDeliveries(c.Request.Context(), []store.WebhookDelivery{d}); err != nil {
		return apierr.Unavailable("cannot queue the test event right now; retry", err)
	}
	a.wake()
	a.audit(c, me.WorkspaceID, "webhook.test", w.ID, w.URL)
	d.Status = store.DeliveryPending
	c.JSON(http.StatusCreated, gin.H{"delivery": deliveryJSONOf(d)})
	return nil
}

func joinList(xs []string) string {
	var b bytes.Buffer
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	return b.String()
}

func (a *webhooksAPI) remove(c *gin.Context) error {
	me := agentOf(c)
	err := a.store(me.WorkspaceID).DeleteWebhook(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such webhook")
	}
	if err != nil {
		return apierr.Unavailable("cannot delete the webhook right now; retry", err)
	}
	a.changed(me.WorkspaceID)
	a.audit(c, me.WorkspaceID, "webhook.delete", c.Param("id"), "")
	c.Status(http.StatusNoContent)
	return nil
}

func (a *webhooksAPI) deliveries(c *gin.Context) error {
	st := a.store(agentOf(c).WorkspaceID)
	if _, err := st.Webhook(c.Request.Context(), c.Param("id")); errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such webhook")
	} else if err != nil {
		return apierr.Unavailable("cannot read the webhook right now; retry", err)
	}
	ds, err := st.Deliveries(c.Request.Context(), c.Param("id"), 100)
	if err != nil {
		return apierr.Unavailable("cannot read the delivery log right now; retry", err)
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryJSONOf(d)
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": out})
	return nil
}

func (a *webhooksAPI) replay(c *gin.Context) error {
	me := agentOf(c)
	d, err := a.store(me.WorkspaceID).ReplayDelivery(c.Request.Context(), c.Param("id"), uuid.NewString(), time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such delivery")
	}
	if err != nil {
		return apierr.Unavailable("cannot replay the delivery right now; retry", err)
	}
	a.wake()
	a.audit(c, me.WorkspaceID, "webhook.replay", d.ReplayOf, d.Event)
	c.JSON(http.StatusCreated, gin.H{"delivery": deliveryJSONOf(d)})
	return nil
}

// hookBook is a node's side of webhooks: its cache of each workspace's
// subscriptions (so events of workspaces without webhooks cost no query)
// and the worker's wake-up.
type hookBook struct {
	mu    sync.Mutex
	cache map[string]cachedHooks
	wake  chan struct{}
}

type cachedHooks struct {
	hooks []store.Webhook
	at    time.Time
}

func (b *hookBook) init() {
	b.cache = map[string]cachedHooks{}
	b.wake = make(chan struct{}, 1)
}

func (b *hookBook) forget(ws string) {
	b.mu.Lock()
	delete(b.cache, ws)
	b.mu.Unlock()
}

func (b *hookBook) wakeUp() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// subscribed lists the workspace's webhooks that take event.
func (s *Server) subscribed(ctx context.Context, ws, event string) ([]store.Webhook, error) {
	now := time.Now()
	s.hooks.mu.Lock()
	c, ok := s.hooks.cache[ws]
	s.hooks.mu.Unlock()
	if !ok || now.Sub(c.at) > webhookCacheTTL {
		hs, err := s.store.Workspace(ws).Webhooks(ctx)
		if err != nil {
			return nil, err
		}
		c = cachedHooks{hooks: hs, at: now}
		s.hooks.mu.Lock()
		s.hooks.cache[ws] = c
		s.hooks.mu.Unlock()
	}
	var out []store.Webhook
	for _, w := range c.hooks {
		if !w.Disabled && slices.Contains(splitList(w.Events), event) {
			out = append(out, w)
		}
	}
	return out, nil
}

// eventJSON is a delivery's body.
type eventJSON struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	CreatedAt   time.Time `json:"created_at"`
	WorkspaceID string    `json:"workspace_id"`
	Data        eventData `json:"data"`
}

type eventData struct {
	Conversation *v1Conversation `json:"conversation,omitempty"`
	Message      *v1Message      `json:"message,omitempty"`
	AgentID      string          `json:"agent_id,omitempty"`
	Contact      *v1Contact      `json:"contact,omitempty"`
	Detail       map[string]any  `json:"detail,omitempty"`
}

// webhookEvent is the conversation service's event sink: it stores one
// delivery of ev per subscribed webhook. It runs in the caller's request,
// after the event is stored; a failure here loses the event's deliveries
// (logged), never the event itself.
func (s *Server) webhookEvent(ctx context.Context, ev conversation.Event) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	hooks, err := s.subscribed(ctx, ev.WorkspaceID, ev.Type)
	if err != nil || len(hooks) == 0 {
		if err != nil {
			s.log.Warn("webhooks: cannot read subscriptions; event not delivered", "event", ev.Type, "err", err)
		}
		return
	}
	body := eventJSON{ID: "evt_" + uuid.NewString(), Type: ev.Type, CreatedAt: ev.At.UTC(), WorkspaceID: ev.WorkspaceID,
		Data: eventData{AgentID: ev.AgentID, Detail: ev.Detail}}
	if ev.Conversation != "" {
		if c, err := s.store.Workspace(ev.WorkspaceID).Conversation(ctx, ev.Conversation); err == nil {
			v := v1ConversationOf(c)
			body.Data.Conversation = &v
		}
	}
	if ev.Message != nil {
		m := v1MessageOf(*ev.Message)
		body.Data.Message = &m
	}
	if ev.ContactID != "" {
		if ct, err := s.store.Workspace(ev.WorkspaceID).Contact(ctx, ev.ContactID); err == nil {
			c := v1ContactOf(ct)
			body.Data.Contact = &c
		}
	}
	payload, err := json.Marshal(body)
	if err != nil || len(payload) > maxPayload {
		s.log.Warn("webhooks: event too large to deliver", "event", ev.Type, "bytes", len(payload), "err", err)
		return
	}
	now := time.Now().UTC()
	ds := make([]store.WebhookDelivery, len(hooks))
	for i, w := range hooks {
		ds[i] = store.WebhookDelivery{ID: uuid.NewString(), WebhookID: w.ID, EventID: body.ID, Event: ev.Type,
			Payload: string(payload), NextAttemptAt: now, CreatedAt: now}
	}
	if err := s.store.Workspace(ev.WorkspaceID).EnqueueDeliveries(ctx, ds); err != nil {
		s.log.Warn("webhooks: cannot queue deliveries", "event", ev.Type, "err", err)
		return
	}
	s.hooks.wakeUp()
}

// runWebhooks delivers due webhook deliveries until ctx ends: at once when
// woken (an event, a replay), else every second, a few at a time.
func (s *Server) runWebhooks(ctx context.Context) {
	client := webhook.Client(s.cfg.WebhookTimeout, s.cfg.WebhookAllowPrivate)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		s.deliverDue(ctx, client)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.hooks.wake:
		}
	}
}

// deliverDue sends every delivery due now, up to four at once.
func (s *Server) deliverDue(ctx context.Context, client *http.Client) {
	for ctx.Err() == nil {
		ids, err := s.store.DueDeliveries(ctx, time.Now().UTC(), 16)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("webhooks: cannot read due deliveries", "err", err)
			}
			return
		}
		if len(ids) == 0 {
			return
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, id := range ids {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.deliver(ctx, client, id)
			}()
		}
		wg.Wait()
	}
}

// deliver claims one delivery, sends it and records the outcome.
func (s *Server) deliver(ctx context.Context, client *http.Client, id string) {
	now := time.Now().UTC()
	d, w, ok, err := s.store.ClaimDelivery(ctx, id, now, s.cfg.WebhookTimeout+webhookLeaseExtra)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhooks: cannot claim a delivery", "delivery", id, "err", err)
		}
		return
	}
	status, excerpt, sendErr := sendDelivery(ctx, client, d, w, s.cfg.WebhookAllowPrivate)
	done := time.Now().UTC()
	a := store.DeliveryAttempt{ResponseStatus: status, Excerpt: excerpt}
	switch {
	case sendErr == nil:
		a.Status, a.DeliveredAt = store.DeliveryDelivered, &done
	case d.Attempts+1 >= webhookAttempts:
		a.Status, a.Error = store.DeliveryFailed, sendErr.Error()
	default:
		a.Status, a.Error = store.DeliveryPending, sendErr.Error()
		a.Next = done.Add(webhook.Backoff(d.Attempts+1, s.cfg.WebhookRetryBase, webhookMaxWait))
	}
	// Recorded even when ctx ended meanwhile (a shutdown): the attempt
	// happened.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.RecordAttempt(rctx, d.ID, a); err != nil {
		s.log.Warn("webhooks: cannot record an attempt; it will be made again", "delivery", d.ID, "err", err)
	}
	if a.Status != store.DeliveryDelivered {
		s.log.Info("webhooks: delivery failed", "delivery", d.ID, "webhook", w.ID, "attempt", d.Attempts+1, "status", a.Status, "err", sendErr)
	}
}

// excerptBytes is how much of a receiver's answer the delivery log keeps.
const excerptBytes = 300

// sendDelivery POSTs one delivery, signed, and returns the answer's status
// and the start of its body; nil error only for a 2xx.
func sendDelivery(ctx context.Context, client *http.Client, d store.WebhookDelivery, w store.Webhook, allowPrivate bool) (int, string, error) {
	if _, err := webhook.CheckURL(w.URL, allowPrivate); err != nil {
		return 0, "", err
	}
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	ts := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhooks/1")
	req.Header.Set(webhook.HeaderEvent, d.Event)
	req.Header.Set(webhook.HeaderDelivery, d.ID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(w.Secret, ts, body))
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	head := make([]byte, excerptBytes)
	n, _ := io.ReadFull(res.Body, head)
	io.Copy(io.Discard, io.LimitReader(res.Body, webhook.MaxResponse))
	excerpt := strings.ToValidUTF8(string(head[:n]), "")
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, excerpt, fmt.Errorf("the receiver answered %d", res.StatusCode)
	}
	return res.StatusCode, excerpt, nil
}
