package knowledge_test

import (
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/knowledge"
)

func TestImportAndRender(t *testing.T) {
	page := `<html><head><title>x</title><script>steal()</script></head><body><nav>menu</nav>
<h1>Return an item</h1><p>You have <strong>30 days</strong> to <a href="/returns">return</a> it.<script>alert(1)</script></p>
<ul><li>Print the label</li><li>Drop the parcel <a href="javascript:alert(1)">here</a></li></ul></body></html>`
	a, err := knowledge.Import("returns.html", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	want := "You have **30 days** to [return](/returns) it.\n\n- Print the label\n- Drop the parcel here"
	if a.Title != "Return an item" || a.Body != want {
		t.Fatalf("imported %q / %q\nwant body %q", a.Title, a.Body, want)
	}
	md, err := knowledge.Import("faq.md", []byte("---\ntitle: \"Shipping FAQ\"\n---\nBody text"))
	if err != nil || md.Title != "Shipping FAQ" || md.Body != "Body text" {
		t.Fatalf("markdown import %+v, %v", md, err)
	}
	if _, err := knowledge.Import("x.pdf", nil); err == nil {
		t.Fatal("a PDF was imported")
	}
	out, err := knowledge.RenderHTML("# Hi\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror=alert(3)>")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "javascript:", "onerror"} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered HTML keeps %q: %s", bad, out)
		}
	}
	if !strings.Contains(out, "<h1>Hi</h1>") {
		t.Errorf("rendered %s", out)
	}
}
