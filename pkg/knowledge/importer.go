package knowledge

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Imported is an article read from a file.
type Imported struct {
	Title string
	Body  string // Markdown
}

var frontTitleRE = regexp.MustCompile(`(?m)^title:\s*(.+?)\s*$`)

// Import reads an uploaded help file: Markdown (.md, .markdown, .txt) as
// it is, HTML (.html, .htm) turned into Markdown. The title is the front
// matter's title, else the first heading (taken out of the body), else
// the file's name.
func Import(name string, data []byte) (Imported, error) {
	ext := strings.ToLower(path.Ext(name))
	base := strings.TrimSuffix(path.Base(name), path.Ext(name))
	var md string
	switch ext {
	case ".md", ".markdown", ".txt":
		md = strings.ReplaceAll(string(data), "\r\n", "\n")
	case ".html", ".htm":
		var err error
		if md, err = htmlToMarkdown(data); err != nil {
			return Imported{}, fmt.Errorf("%s: %w", name, err)
		}
	default:
		return Imported{}, fmt.Errorf("%s: only Markdown (.md, .txt) and HTML (.html) files can be imported", name)
	}
	title := ""
	if rest, ok := strings.CutPrefix(md, "---\n"); ok {
		if front, body, ok := strings.Cut(rest, "\n---\n"); ok {
			if m := frontTitleRE.FindStringSubmatch(front); m != nil {
				title = strings.Trim(m[1], `"'`)
			}
			md = body
		}
	}
	if title == "" {
		lines := strings.Split(md, "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) == "" {
				continue
			}
			if m := headingRE.FindStringSubmatch(l); m != nil && len(m[1]) == 1 {
				title = Plain(m[2])
				md = strings.Join(lines[i+1:], "\n")
			}
			break
		}
	}
	if title == "" {
		title = strings.ReplaceAll(base, "-", " ")
	}
	return Imported{Title: strings.TrimSpace(title), Body: strings.TrimSpace(md)}, nil
}

// htmlToMarkdown keeps what a help article needs from an HTML page:
// headings, paragraphs, lists, links, emphasis and code. Scripts, styles
// and everything else are left out.
func htmlToMarkdown(data []byte) (string, error) {
	doc, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var walk func(n *html.Node, list string)
	inline := func(n *html.Node) string {
		var parts []string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			parts = append(parts, inlineOf(c))
		}
		return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	}
	walk = func(n *html.Node, list string) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Nav, atom.Footer, atom.Noscript, atom.Template:
				return
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				level := int(n.Data[1] - '0')
				b.WriteString(strings.Repeat("#", level) + " " + inline(n) + "\n\n")
				return
			case atom.P, atom.Blockquote:
				if t := inline(n); t != "" {
					b.WriteString(t + "\n\n")
				}
				return
			case atom.Pre:
				b.WriteString("```\n" + strings.TrimSpace(textOf(n)) + "\n```\n\n")
				return
			case atom.Ul, atom.Ol:
				mark := "-"
				if n.DataAtom == atom.Ol {
					mark = "1."
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, mark)
				}
				b.WriteString("\n")
				return
			case atom.Li:
				b.WriteString(list + " " + inline(n) + "\n")
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, list)
		}
	}
	walk(doc, "-")
	return strings.TrimSpace(b.String()), nil
}

// inlineOf renders a node inside a paragraph as Markdown text.
func inlineOf(n *html.Node) string {
	switch {
	case n.Type == html.TextNode:
		return strings.Join(strings.Fields(n.Data), " ")
	case n.Type != html.ElementNode, n.DataAtom == atom.Script, n.DataAtom == atom.Style:
		return ""
	case n.DataAtom == atom.Br:
		return " "
	}
	var parts []string
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		parts = append(parts, inlineOf(c))
	}
	text := strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	if text == "" {
		return ""
	}
	switch n.DataAtom {
	case atom.A:
		href := ""
		for _, a := range n.Attr {
			if a.Key == "href" {
				href = strings.TrimSpace(a.Val)
			}
		}
		if href != "" && !strings.HasPrefix(strings.ToLower(href), "javascript:") && !strings.ContainsAny(href, " ()") {
			return "[" + text + "](" + href + ")"
		}
	case atom.Strong, atom.B:
		return "**" + text + "**"
	case atom.Em, atom.I:
		return "*" + text + "*"
	case atom.Code:
		return "`" + text + "`"
	}
	return text
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}

// RenderHTML renders an article's Markdown for the public help page.
// goldmark's defaults keep it safe: raw HTML in the Markdown is left out
// (never passed through), and links or images with javascript:, vbscript:,
// file: or data: (other than images) addresses lose them.
func RenderHTML(md string) (string, error) {
	var b bytes.Buffer
	if err := goldmark.Convert([]byte(md), &b); err != nil {
		return "", err
	}
	return b.String(), nil
}
