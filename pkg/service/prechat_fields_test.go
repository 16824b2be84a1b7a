package service

import (
	"context"
	"net/http"
	"testing"
)

// An admin sets the site's pre-chat fields; the widget's answers are
// checked against them (required ones, an email that is one, only the
// site's own labels kept) and become the visitor's profile, which agents
// see with the visitor's conversation.
func TestPrechatFieldsBecomeTheVisitorsProfile(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		path := "/api/sites/" + ts.site.ID
		for _, bad := range []any{
			[]map[string]any{{"kind": "shoe size"}},
			[]map[string]any{{"kind": "custom", "label": " "}},
			[]map[string]any{{"kind": "email"}, {"kind": "email"}},
		} {
			if code := admin.call(t, "PATCH", path, map[string]any{"prechat_fields": bad}, nil); code != http.StatusBadRequest {
				t.Fatalf("fields %v: %d, want 400", bad, code)
			}
		}
		var out siteOut
		fields := []map[string]any{{"kind": "name", "required": true}, {"kind": "email", "required": true}, {"kind": "phone"}, {"kind": "custom", "label": "Order number", "required": true}}
		if code := admin.call(t, "PATCH", path, map[string]any{"prechat_fields": fields}, &out); code != http.StatusOK || len(out.Site.PrechatFields) != 4 || out.Site.PrechatFields[3].Label != "Order number" {
			t.Fatalf("set fields: %d %+v", code, out.Site.PrechatFields)
		}

		v, token := ts.visitorOnPage(t, "https://shop.example/")
		post := func(f map[string]any) int {
			return ts.widgetPost(t, "/api/widget/prechat", map[string]any{"token": token, "fields": f}, nil)
		}
		if code := post(map[string]any{"name": "Zoé", "email": "zoe@example.com"}); code != http.StatusBadRequest {
			t.Fatalf("a required custom field missing: %d, want 400", code)
		}
		if code := post(map[string]any{"name": "Zoé", "email": "not an email", "custom": map[string]string{"Order number": "A-1"}}); code != http.StatusBadRequest {
			t.Fatalf("a bad email: %d, want 400", code)
		}
		ok := map[string]any{"name": "Zoé Martin", "email": "zoe@example.com", "phone": "+33 6 12 34 56 78",
			"custom": map[string]string{"Order number": "A-1234", "Injected": "kept out"}}
		if code := post(ok); code != http.StatusOK {
			t.Fatalf("answers: %d", code)
		}
		sc := ts.st.Workspace(ts.site.WorkspaceID)
		conv := v.start()
		visitor, err := sc.Visitor(context.Background(), conv.VisitorID)
		if err != nil || visitor.Name != "Zoé Martin" || visitor.Email != "zoe@example.com" || visitor.Phone != "+33 6 12 34 56 78" {
			t.Fatalf("visitor: %+v %v", visitor, err)
		}
		if c := visitor.Custom(); len(c) != 1 || c["Order number"] != "A-1234" {
			t.Fatalf("custom fields kept: %v", c)
		}
		if conv.VisitorPhone != "+33 6 12 34 56 78" || conv.VisitorFields["Order number"] != "A-1234" || conv.VisitorEmail != "zoe@example.com" || conv.VisitorName != "Zoé Martin" {
			t.Fatalf("the conversation's info: %+v", conv)
		}
	})
}
