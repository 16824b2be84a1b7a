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

// allowHTTP answers 429 with Retry-After when the limit is exceeded.
func (s *Server) allowHTTP(c *gin.Context, rule ratelimit.Rule, subject string) bool {
	ok, retry := s.allow(c.Request.Context(), rule, subject)
	if !ok {
		secs := int(math.Ceil(retry.Seconds()))
		c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
		c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{
			"error": "too many requests; retry in " + strconv.Itoa(max(secs, 1)) + " s", "code": "rate_limited",
			"retry_after_ms": retry.Milliseconds(),
		})
	}
	return ok
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
