package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// sealedColumn names a sealed column Reencrypt must reseal that its own
// loops do not: the table, the columns that identify a row (the first one
// orders the walk), the sealed column, and its AAD from the row.
type sealedColumn struct {
	table  string
	keys   []string
	column string
	aad    func(row map[string]any) []byte
}

func str(row map[string]any, k string) string {
	switch v := row[k].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func toInt64(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	}
	n, _ := strconv.ParseInt(str(map[string]any{"v": v}, "v"), 10, 64)
	return n
}

// moreSealed lists the sealed columns added by the visitor activity, the
// pre-chat profile, the assistant, API idempotency, webhooks and
// contacts.
var moreSealed = []sealedColumn{
	{"visitor_pages", []string{"id", "visitor_id"}, "url", func(r map[string]any) []byte { return pageAAD(str(r, "visitor_id"), str(r, "id"), "url") }},
	{"visitor_pages", []string{"id", "visitor_id"}, "title", func(r map[string]any) []byte { return pageAAD(str(r, "visitor_id"), str(r, "id"), "title") }},
	{"visitor_pages", []string{"id", "visitor_id"}, "referrer", func(r map[string]any) []byte { return pageAAD(str(r, "visitor_id"), str(r, "id"), "referrer") }},
	{"visitor_events", []string{"id", "visitor_id"}, "props", func(r map[string]any) []byte { return eventAAD(str(r, "visitor_id")) }},
	{"visitor_attributes", []string{"visitor_id"}, "data", func(r map[string]any) []byte { return attributesAAD(str(r, "visitor_id")) }},
	{"visitors", []string{"id"}, "phone", func(r map[string]any) []byte { return visitorPhoneAAD(str(r, "id")) }},
	{"visitors", []string{"id"}, "profile", func(r map[string]any) []byte { return visitorProfileAAD(str(r, "id")) }},
	{"assistant_settings", []string{"site_id"}, "api_key", func(r map[string]any) []byte { return assistantKeyAAD(str(r, "site_id")) }},
	{"translation_settings", []string{"site_id"}, "api_key", func(r map[string]any) []byte { return translationKeyAAD(str(r, "site_id")) }},
	{"idempotency_keys", []string{"idem_key", "workspace_id"}, "body", func(r map[string]any) []byte {
		return idempotencyAAD(str(r, "workspace_id"), str(r, "idem_key"))
	}},
	{"message_translations", []string{"id", "conversation_id", "seq", "language"}, "text", func(r map[string]any) []byte {
		return translationAAD(str(r, "conversation_id"), toInt64(r["seq"]), str(r, "language"))
	}},
	{"search_keys", []string{"workspace_id"}, "secret", func(r map[string]any) []byte { return searchKeyAAD(str(r, "workspace_id")) }},
	{"webhooks", []string{"id"}, "secret", func(r map[string]any) []byte { return webhookSecretAAD(str(r, "id")) }},
	{"webhook_deliveries", []string{"id", "workspace_id", "event_id"}, "payload", func(r map[string]any) []byte {
		return eventPayloadAAD(str(r, "workspace_id"), str(r, "event_id"))
	}},
	{"contacts", []string{"id"}, "name", func(r map[string]any) []byte { return contactFieldAAD(str(r, "id"), "name") }},
	{"contacts", []string{"id"}, "email", func(r map[string]any) []byte { return contactFieldAAD(str(r, "id"), "email") }},
	{"contacts", []string{"id"}, "phone", func(r map[string]any) []byte { return contactFieldAAD(str(r, "id"), "phone") }},
	{"contacts", []string{"id"}, "notes", func(r map[string]any) []byte { return contactFieldAAD(str(r, "id"), "notes") }},
	// The bytes of attachments are sealed too, in their blob store:
	// ReencryptBlobs reseals them (`signaling reencrypt` runs both).
	{"attachments", []string{"id"}, "name", func(r map[string]any) []byte { return attachmentNameAAD(str(r, "id")) }},
}

// reencryptMore reseals the columns of moreSealed, 500 rows at a time.
// Like resealColumn, each update is conditional on the old value.
func (s *Store) reencryptMore(ctx context.Context, k interface {
	Sealer
	Resealer
}) (int, error) {
	n := 0
	for _, sc := range moreSealed {
		if !s.db.Migrator().HasColumn(sc.table, sc.column) {
			continue // an older schema in a test, or a feature's table not made yet
		}
		cols := strings.Join(append(append([]string{}, sc.keys...), sc.column), ", ")
		order := sc.keys[0]
		var last any = ""
		if sc.table == "visitor_events" || sc.table == "message_translations" { // integer ids
			last = int64(0)
		}
		for {
			var rows []map[string]any
			q := s.db.WithContext(ctx).Table(sc.table).Select(cols).Where(order+" > ?", last).Where(sc.column + " <> ''").Order(order).Limit(500)
			if err := q.Find(&rows).Error; err != nil {
				return n, fmt.Errorf("%s.%s: %w", sc.table, sc.column, err)
			}
			if len(rows) == 0 {
				break
			}
			for _, r := range rows {
				last = r[order]
				value := str(r, sc.column)
				out, changed, err := reseal(k, value, sc.aad(r))
				if err != nil {
					return n, fmt.Errorf("%s.%s of %v: %w", sc.table, sc.column, r[order], err)
				}
				if !changed {
					continue
				}
				q := s.db.WithContext(ctx).Table(sc.table).Where(sc.column+" = ?", value)
				for _, key := range sc.keys {
					q = q.Where(key+" = ?", r[key])
				}
				if err := q.Update(sc.column, out).Error; err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}
