package service

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/ratelimit"
)

// allow checks a rate limit. A limiter failure lets the request through
// (and is logged): a broken limiter must not take chat down. With no
// limiter (PARLEY_RATE_LIMITS=off) everything is allowed.
func (s *Server) allow(ctx context.Context, rule ratelimit.Rule, subject string) (bool, time.Duration) {
	if s.limiter == nil {
		return true, 0
	}
	res, err := rule.Allow(ctx, s.limiter, subject)
	if err != nil {
		s.log.Warn("rate limiter failed; allowing", "rule", rule.Name, "err", err)
		return true, 0
	}
	return res.Allowed, res.RetryAfter
}

// limitedError is a request refused by a rate limit: writeError answers
// 429 with Retry-After, and retry_after_ms in the body.
type limitedError struct{ retry time.Duration }

func (e *limitedError) Error() string {
	return "too many requests; retry in " + strconv.Itoa(e.seconds()) + " s"
}

func (e *limitedError) seconds() int { return max(int(math.Ceil(e.retry.Seconds())), 1) }

// write answers the refusal.
func (e *limitedError) write(c *gin.Context) {
	c.Header("Retry-After", strconv.Itoa(e.seconds()))
	c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{
		"error": e.Error(), "code": "rate_limited", "retry_after_ms": e.retry.Milliseconds(),
	})
}

// limit returns a *limitedError when the limit is exceeded, for handlers
// that return errors.
func (s *Server) limit(c *gin.Context, rule ratelimit.Rule, subject string) error {
	if ok, retry := s.allow(c.Request.Context(), rule, subject); !ok {
		return &limitedError{retry}
	}
	return nil
}

// allowHTTP answers 429 with Retry-After when the limit is exceeded.
func (s *Server) allowHTTP(c *gin.Context, rule ratelimit.Rule, subject string) bool {
	if err := s.limit(c, rule, subject); err != nil {
		writeError(c, nil, err)
		return false
	}
	return true
}

// limitConversations applies the limits on new conversations per visitor
// and per site (PARLEY_CONVERSATIONS_PER_VISITOR, _PER_SITE) to conv: a
// conversation over either is refused with a rate_limited error.
func (s *Server) limitConversations(conv *conversation.Service) {
	for _, r := range []struct {
		rule *ratelimit.Rule
		rate config.Rate
	}{{&s.rules.ConversationPerVisitor, s.cfg.ConversationsPerVisitor}, {&s.rules.ConversationPerSite, s.cfg.ConversationsPerSite}} {
		if r.rule.Name != "" && r.rate.N > 0 {
			r.rule.Limit = ratelimit.Limit{Rate: r.rate.N, Burst: r.rate.N, Period: r.rate.Per}
		}
	}
	conv.SetAdmit(func(ctx context.Context, p conversation.Participant) error {
		for _, r := range []struct {
			rule    ratelimit.Rule
			subject string
		}{{s.rules.ConversationPerVisitor, p.ID}, {s.rules.ConversationPerSite, p.SiteID}} {
			if r.rule.Limit.Rate == 0 {
				continue // no such rule (rate limits off)
			}
			if ok, retry := s.allow(ctx, r.rule, r.subject); !ok {
				return &conversation.RateLimitedError{What: "new conversations", RetryAfter: retry}
			}
		}
		return nil
	})
}
