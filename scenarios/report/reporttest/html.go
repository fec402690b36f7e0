package reporttest

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Doc is what an HTML report holds, read by a real HTML parser (golang.org/x/net/html, the
// tokenizer browsers' algorithm is specified by): the check that runs everywhere, with or
// without Chromium.
type Doc struct {
	Title  string // the h1
	Totals string // "N passed, M failed"
	Runs   []DocRun
}

// DocRun is one scenario's section of the report.
type DocRun struct {
	ID, Name, Verdict string
	Replay            string // the replay command, when printed
	Checks            []DocCheck
	// Timelines counts the section's <svg class="timeline">; the counts below are the
	// timeline's shapes by class.
	Timelines   int
	FaultShades int
	Faults      int
	OKBars      int
	ErrBars     int
	Breakers    map[string]int // breaker spans by state ("open", "closed", ...)
	// Visualizations are the section's embedded pages of failing checks (iframe srcdoc).
	Visualizations []DocVisualization
}

// DocVisualization is one embedded page: the iframe's title, and the page's own <title> and
// text, read by the same parser (its references are checked like the report's).
type DocVisualization struct {
	Frame, Title string
	Page         string // the srcdoc, unescaped
}

// DocCheck is one row of a run's checks table.
type DocCheck struct {
	Name string
	Pass bool
}

var cssURL = regexp.MustCompile(`(?i)url\(\s*["']?([^"')]+)|@import`)

// ParseHTML parses a report and returns its structure. It fails on markup the parser had
// to repair into something else than a report, and on any reference to a resource outside
// the file: every src, href and xlink:href must be a fragment or data:, and no CSS url() or
// @import may point elsewhere.
func ParseHTML(data []byte) (*Doc, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	d := &Doc{}
	var problems []string
	var cur *DocRun
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			problems = append(problems, external(n)...)
			switch {
			case n.DataAtom == atom.Iframe:
				page := nodeAttr(n, "srcdoc")
				inner, err := html.Parse(strings.NewReader(page))
				if err != nil {
					problems = append(problems, fmt.Sprintf("<iframe srcdoc>: %v", err))
					break
				}
				v := DocVisualization{Frame: nodeAttr(n, "title"), Page: page}
				var inWalk func(m *html.Node)
				inWalk = func(m *html.Node) {
					if m.Type == html.ElementNode {
						for _, p := range external(m) {
							problems = append(problems, "<iframe srcdoc>: "+p)
						}
						if m.DataAtom == atom.Title && v.Title == "" {
							v.Title = text(m)
						}
					}
					for c := m.FirstChild; c != nil; c = c.NextSibling {
						inWalk(c)
					}
				}
				inWalk(inner)
				if cur != nil {
					cur.Visualizations = append(cur.Visualizations, v)
				}
			case n.DataAtom == atom.H1 && d.Title == "":
				d.Title = text(n)
			case nodeAttr(n, "id") == "totals":
				d.Totals = text(n)
			case n.DataAtom == atom.Section && hasClass(n, "run"):
				d.Runs = append(d.Runs, DocRun{ID: nodeAttr(n, "id"), Verdict: nodeAttr(n, "data-verdict"), Breakers: map[string]int{}})
				cur = &d.Runs[len(d.Runs)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case cur != nil:
				switch {
				case n.DataAtom == atom.H2:
					// "<badge>VERDICT</badge> name"
					cur.Name = strings.TrimSpace(strings.TrimPrefix(text(n), cur.Verdict))
				case n.DataAtom == atom.P && hasClass(n, "replay"):
					cur.Replay = strings.TrimSpace(strings.TrimPrefix(text(n), "replay:"))
				case n.DataAtom == atom.Tr && hasClass(n, "check"):
					var cells []string
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.DataAtom == atom.Td {
							cells = append(cells, text(c))
						}
					}
					if len(cells) >= 2 {
						cur.Checks = append(cur.Checks, DocCheck{Name: cells[1], Pass: hasClass(n, "pass")})
					}
				case n.Data == "svg" && hasClass(n, "timeline"):
					cur.Timelines++
				case n.Data == "rect":
					switch {
					case hasClass(n, "fault-shade"):
						cur.FaultShades++
					case hasClass(n, "fault"):
						cur.Faults++
					case hasClass(n, "ok"):
						cur.OKBars++
					case hasClass(n, "err"):
						cur.ErrBars++
					case hasClass(n, "breaker"):
						for _, c := range strings.Fields(nodeAttr(n, "class")) {
							if c != "breaker" {
								cur.Breakers[c]++
							}
						}
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	if len(problems) > 0 {
		return d, fmt.Errorf("not self-contained: %s", strings.Join(problems, "; "))
	}
	if d.Title == "" {
		return d, fmt.Errorf("no <h1> title")
	}
	return d, nil
}

// external lists an element's references to resources outside the file.
func external(n *html.Node) []string {
	var out []string
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "src", "href", "action", "poster", "srcset", "data":
			if !strings.HasPrefix(a.Val, "#") && !strings.HasPrefix(a.Val, "data:") {
				out = append(out, fmt.Sprintf("<%s %s=%q> refers outside the file", n.Data, a.Key, a.Val))
			}
		case "style":
			out = append(out, externalCSS(n.Data, a.Val)...)
		}
	}
	if n.DataAtom == atom.Style {
		out = append(out, externalCSS("style", text(n))...)
	}
	return out
}

func externalCSS(where, css string) []string {
	var out []string
	for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
		if m[1] == "" || (!strings.HasPrefix(m[1], "#") && !strings.HasPrefix(m[1], "data:")) {
			out = append(out, fmt.Sprintf("%s: %q refers outside the file", where, m[0]))
		}
	}
	return out
}

func nodeAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(nodeAttr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// text is the node's text content, whitespace collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return strings.Join(strings.Fields(b.String()), " ")
}
