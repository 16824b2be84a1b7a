package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// A site's stored routing settings, read into pkg/routing's types.

// RulesOf reads a site's stored routing settings.
func RulesOf(site store.Site) (routing.Rules, error) {
	rules := routing.Rules{Mode: routing.Mode(site.RoutingMode), MaxMisses: max(site.MaxMisses, 0),
		OfferTimeout: time.Duration(max(site.OfferTimeoutSeconds, 0)) * time.Second}
	if rules.Mode == "" {
		rules.Mode = routing.ModeAuto
	}
	for _, p := range store.SplitList(site.RelaxAfter) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return routing.Rules{}, fmt.Errorf("%w: relax_after %q is not a list of seconds", ErrInvalid, site.RelaxAfter)
		}
		rules.RelaxAfter = append(rules.RelaxAfter, time.Duration(n)*time.Second)
	}
	if strings.TrimSpace(site.BusinessHours) != "" {
		h, err := ParseHours(site.BusinessHours, site.TimeZone)
		if err != nil {
			return routing.Rules{}, err
		}
		rules.Hours = h
	}
	if err := rules.Validate(); err != nil {
		return routing.Rules{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return rules, nil
}

// Weekdays are the keys of a business-hours JSON object, by time.Weekday.
var Weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseHours reads business hours: a JSON object from weekday ("mon") to a
// list of "HH:MM-HH:MM" intervals, local time in zone (IANA, "" = UTC). A
// day that is missing is closed.
func ParseHours(js, zone string) (*routing.Schedule, error) {
	var days map[string][]string
	if err := json.Unmarshal([]byte(js), &days); err != nil {
		return nil, fmt.Errorf("%w: business hours must be a JSON object like {\"mon\":[\"09:00-17:00\"]}: %v", ErrInvalid, err)
	}
	var week [7][]routing.Interval
	for day, ivs := range days {
		d := slices.Index(Weekdays[:], strings.ToLower(day))
		if d < 0 {
			return nil, fmt.Errorf("%w: business hours: unknown day %q (use sun, mon, ..., sat)", ErrInvalid, day)
		}
		for _, s := range ivs {
			iv, err := routing.ParseInterval(s)
			if err != nil {
				return nil, fmt.Errorf("%w: business hours %s: %v", ErrInvalid, day, err)
			}
			week[d] = append(week[d], iv)
		}
	}
	h, err := routing.NewSchedule(zone, week)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return h, nil
}

func needText(skill, team string) string {
	var parts []string
	if skill != "" {
		parts = append(parts, "skill "+skill)
	}
	if team != "" {
		parts = append(parts, "team "+team)
	}
	if len(parts) == 0 {
		return "anyone"
	}
	return strings.Join(parts, ", ")
}

// PageRulesOf reads a site's stored page rules.
func PageRulesOf(site store.Site) ([]routing.PageRule, error) {
	var rules []routing.PageRule
	if strings.TrimSpace(site.PageRules) != "" {
		if err := json.Unmarshal([]byte(site.PageRules), &rules); err != nil {
			return nil, fmt.Errorf("%w: page rules: %v", ErrInvalid, err)
		}
	}
	if err := routing.ValidatePageRules(rules); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return rules, nil
}

// ChoicesOf reads a site's stored pre-chat choices.
func ChoicesOf(site store.Site) ([]routing.Choice, error) {
	var choices []routing.Choice
	if strings.TrimSpace(site.PrechatChoices) != "" {
		if err := json.Unmarshal([]byte(site.PrechatChoices), &choices); err != nil {
			return nil, fmt.Errorf("%w: pre-chat choices: %v", ErrInvalid, err)
		}
	}
	if err := routing.ValidateChoices(choices); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return choices, nil
}

// Position returns the last queue frame sent for a waiting conversation
// of workspace ws; the workspace's routing node is asked (within a second)
// SiteChanged re-reads a site's routing rules after an edit, here and on
// the other nodes.
func (r *Router) SiteChanged(ctx context.Context, ws, siteID string) error {
	err := r.reloadSite(ctx, ws, siteID)
	if err == nil {
		r.announce(ctx, ws, PresenceNote{Site: siteID})
	}
	return err
}

func (r *Router) reloadSite(ctx context.Context, ws, siteID string) error {
	defer r.local.drain(ctx)
	if err := r.ensure(ctx, ws); err != nil {
		return err
	}
	site, err := r.st.Workspace(ws).Site(ctx, siteID)
	if err != nil {
		return mapErr(err)
	}
	rules, err := RulesOf(site)
	if err != nil {
		return err
	}
	return r.eng.SetRules(ws, siteID, rules)
}
