package file

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/faultline/faultline/scenarios"
)

// The decoder walks goccy/go-yaml's AST against the Scenario type by reflection, over the
// fields' yaml tags. Walking the AST rather than calling yaml.Unmarshal keeps a position for
// every field path (so the engine's validation errors, which name paths, can be put at a
// line and column), reports every problem rather than the first, and words each message for
// a scenario author rather than in terms of Go types.

type pos struct{ line, col int }

// locations maps field paths ("nodes[1].services[0]") to where their values are.
type locations map[string]pos

// find returns the position of path, or of its nearest ancestor present in the file (a
// required field that is missing is reported where its parent is).
func (l locations) find(path string) pos {
	for {
		if p, ok := l[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return l[""]
		}
		path = path[:i]
	}
}

type decoder struct {
	file    string
	anchors map[string]ast.Node
	locs    locations
	probs   []Problem
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	// bigInt is an integer too large for goccy's lexer, which reads it as a string.
	bigInt = regexp.MustCompile(`^[-+]?[0-9]+$`)
)

func decode(name string, data []byte) (*scenarios.Scenario, locations, error) {
	d := &decoder{file: name, anchors: map[string]ast.Node{}, locs: locations{"": {1, 1}}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, nil, &Error{File: name, Problems: []Problem{d.syntaxProblem(err)}}
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			d.add(doc.Body, "", "a scenario file holds one scenario: remove the second YAML document")
			break
		}
		body = doc.Body
	}
	if body == nil {
		return nil, nil, &Error{File: name, Problems: []Problem{{File: name, Line: 1, Col: 1, Msg: "the file holds no scenario"}}}
	}
	for _, n := range ast.Filter(ast.AnchorType, body) {
		a := n.(*ast.AnchorNode)
		d.anchors[a.Name.GetToken().Value] = a.Value
	}
	var s scenarios.Scenario
	if r := d.resolve(body, ""); r != nil {
		if _, ok := r.(ast.MapNode); !ok {
			d.add(body, "", "a scenario file must be a mapping of scenario fields (name, seed, duration, nodes, workload, faults, checks, ...), got %s", describe(r))
		} else {
			d.value(body, reflect.ValueOf(&s).Elem(), "")
		}
	}
	if len(d.probs) > 0 {
		sortProblems(d.probs)
		return nil, nil, &Error{File: name, Problems: d.probs}
	}
	return &s, d.locs, nil
}

func (d *decoder) syntaxProblem(err error) Problem {
	p := Problem{File: d.file, Msg: "YAML syntax error: " + err.Error()}
	var se *yaml.SyntaxError
	if errors.As(err, &se) {
		p.Msg = "YAML syntax error: " + se.Message
		if se.Token != nil && se.Token.Position != nil {
			p.Line, p.Col = se.Token.Position.Line, se.Token.Position.Column
		}
	}
	return p
}

func nodePos(n ast.Node) pos {
	switch x := n.(type) {
	case nil:
		return pos{}
	case *ast.MappingNode:
		if len(x.Values) > 0 {
			return nodePos(x.Values[0])
		}
	case *ast.MappingValueNode:
		return nodePos(x.Key)
	case *ast.AnchorNode:
		return nodePos(x.Value)
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return pos{tk.Position.Line, tk.Position.Column}
	}
	return pos{}
}

func (d *decoder) add(n ast.Node, path, format string, args ...any) {
	p := nodePos(n)
	if p.line == 0 {
		p = d.locs.find(path)
	}
	d.probs = append(d.probs, Problem{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// resolve strips anchors and tags and follows aliases; nil means an absent or null value.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for depth := 0; n != nil && depth < 64; depth++ {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		case *ast.AliasNode:
			name := x.Value.GetToken().Value
			target, ok := d.anchors[name]
			if !ok {
				d.add(x, path, "alias *%s names no anchor", name)
				return nil
			}
			n = target
		case *ast.NullNode:
			return nil
		default:
			return n
		}
	}
	return n
}

// describe names a node's kind and value for messages.
func describe(n ast.Node) string {
	switch x := n.(type) {
	case nil:
		return "nothing"
	case *ast.StringNode:
		return strconv.Quote(x.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode:
		return "the integer " + x.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + x.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + x.GetToken().Value
	case ast.MapNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return n.Type().String()
}

type entry struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// entries lists a mapping's entries, with merge keys (<<: *base) expanded; explicit keys win
// over merged ones.
func (d *decoder) entries(n ast.Node, path string, depth int) []entry {
	mn, ok := n.(ast.MapNode)
	if !ok || depth > 16 {
		return nil
	}
	var own, merged []entry
	it := mn.MapRange()
	for it.Next() {
		kv := it.KeyValue()
		if kv.Key.IsMergeKey() {
			src := d.resolve(kv.Value, path)
			var srcs []ast.Node
			if seq, ok := src.(*ast.SequenceNode); ok {
				for _, v := range seq.Values {
					srcs = append(srcs, d.resolve(v, path))
				}
			} else {
				srcs = append(srcs, src)
			}
			for _, s := range srcs {
				if _, ok := s.(ast.MapNode); !ok {
					d.add(kv.Value, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(s))
					continue
				}
				merged = append(merged, d.entries(s, path, depth+1)...)
			}
			continue
		}
		key := kv.Key.GetToken().Value
		if s, ok := kv.Key.(*ast.StringNode); ok {
			key = s.Value
		}
		own = append(own, entry{key: key, keyN: kv.Key, value: kv.Value})
	}
	seen := map[string]bool{}
	for _, e := range own {
		seen[e.key] = true
	}
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			own = append(own, e)
		}
	}
	return own
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// value decodes node n into v, at field path.
func (d *decoder) value(n ast.Node, v reflect.Value, path string) {
	if p := nodePos(n); p.line > 0 {
		if _, seen := d.locs[path]; !seen || path == "" {
			d.locs[path] = p
		}
	}
	r := d.resolve(n, path)
	if r == nil {
		return // null: the zero value
	}
	t := v.Type()
	if t == durationType {
		d.duration(n, r, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		d.value(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.structValue(n, r, v, path)
	case reflect.Slice:
		seq, ok := r.(*ast.SequenceNode)
		if !ok {
			d.add(n, path, "expected a list, got %s", describe(r))
			return
		}
		out := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.value(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(out)
	case reflect.Map:
		if _, ok := r.(ast.MapNode); !ok {
			d.add(n, path, "expected a mapping, got %s", describe(r))
			return
		}
		if t.Elem().Kind() != reflect.Interface {
			// A mapping of typed values (a declared service's actions): each value is
			// decoded against its type, with a position of its own.
			out := reflect.MakeMap(t)
			for _, e := range d.entries(r, path, 0) {
				p := join(path, e.key)
				d.locs[p] = nodePos(e.keyN)
				elem := reflect.New(t.Elem()).Elem()
				d.value(e.value, elem, p)
				out.SetMapIndex(reflect.ValueOf(e.key).Convert(t.Key()), elem)
			}
			v.Set(out)
			return
		}
		if g, ok := d.generic(r, path, 0); ok {
			v.Set(reflect.ValueOf(g))
		}
	case reflect.Interface:
		if g, ok := d.generic(r, path, 0); ok && g != nil {
			v.Set(reflect.ValueOf(g))
		}
	case reflect.String:
		switch x := r.(type) {
		case *ast.StringNode:
			v.SetString(x.Value)
		case *ast.LiteralNode:
			v.SetString(x.Value.Value)
		default:
			d.add(n, path, "expected a string, got %s", describe(r))
		}
	case reflect.Bool:
		b, ok := r.(*ast.BoolNode)
		if !ok {
			d.add(n, path, "expected true or false, got %s", describe(r))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, ok := r.(*ast.IntegerNode)
		if !ok {
			if str, isStr := r.(*ast.StringNode); isStr && bigInt.MatchString(str.Value) {
				d.add(n, path, "integer %s is out of range", str.Value)
				return
			}
			d.add(n, path, "expected an integer, got %s", describe(r))
			return
		}
		var x int64
		ok = true
		switch iv := i.Value.(type) {
		case int64:
			x = iv
		case uint64:
			x, ok = int64(iv), iv <= math.MaxInt64
		}
		if !ok || v.OverflowInt(x) {
			d.add(n, path, "integer %s is out of range", i.GetToken().Value)
			return
		}
		v.SetInt(x)
	case reflect.Uint64, reflect.Uint:
		i, ok := r.(*ast.IntegerNode)
		if !ok {
			if str, isStr := r.(*ast.StringNode); isStr && bigInt.MatchString(str.Value) {
				d.add(n, path, "integer %s is out of range", str.Value)
				return
			}
			d.add(n, path, "expected a non-negative integer, got %s", describe(r))
			return
		}
		switch x := i.Value.(type) {
		case int64:
			if x < 0 {
				d.add(n, path, "must not be negative, got %d", x)
				return
			}
			v.SetUint(uint64(x))
		case uint64:
			v.SetUint(x)
		}
	case reflect.Float64:
		switch x := r.(type) {
		case *ast.IntegerNode:
			switch i := x.Value.(type) {
			case int64:
				v.SetFloat(float64(i))
			case uint64:
				v.SetFloat(float64(i))
			}
		case *ast.FloatNode:
			v.SetFloat(x.Value)
		default:
			d.add(n, path, "expected a number, got %s", describe(r))
		}
	default:
		d.add(n, path, "cannot be set from a file")
	}
}

func (d *decoder) duration(n, r ast.Node, v reflect.Value, path string) {
	switch x := r.(type) {
	case *ast.StringNode:
		dur, err := time.ParseDuration(strings.TrimSpace(x.Value))
		if err != nil {
			d.add(n, path, "invalid duration %q: write a number and a unit, such as \"250ms\", \"1.5s\" or \"1m30s\"", x.Value)
			return
		}
		v.SetInt(int64(dur))
	case *ast.IntegerNode:
		if x.GetToken().Value == "0" {
			v.SetInt(0)
			return
		}
		d.add(n, path, "a duration needs a unit: write \"%ss\" or \"%sms\", not %s", x.GetToken().Value, x.GetToken().Value, x.GetToken().Value)
	default:
		d.add(n, path, "expected a duration such as \"250ms\" or \"1m30s\", got %s", describe(r))
	}
}

// field is one field of a struct in the file format.
type field struct {
	name  string
	index int
}

// fields lists the file-format fields of a struct type: its exported fields with a yaml tag
// other than "-", by their yaml names, in declaration order.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" || tag == "" {
			continue
		}
		out = append(out, field{name: name, index: i})
	}
	return out
}

// FieldNames lists the file-format field names of a struct type: its exported fields with
// a yaml tag other than "-", by their yaml names, in declaration order.
func FieldNames(t reflect.Type) []string {
	fs := fieldsOf(t)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

func (d *decoder) structValue(n, r ast.Node, v reflect.Value, path string) {
	if _, ok := r.(ast.MapNode); !ok {
		d.add(n, path, "expected a mapping with the fields %s, got %s", strings.Join(FieldNames(v.Type()), ", "), describe(r))
		return
	}
	fields := fieldsOf(v.Type())
	byName := map[string]field{}
	for _, f := range fields {
		byName[f.name] = f
	}
	for _, e := range d.entries(r, path, 0) {
		f, ok := byName[e.key]
		p := join(path, e.key)
		if !ok {
			d.add(e.keyN, p, "unknown field %q%s", e.key, suggest(e.key, FieldNames(v.Type())))
			continue
		}
		if _, seen := d.locs[p]; !seen {
			if _, null := e.value.(*ast.NullNode); !null && nodePos(e.value).line > 0 {
				vp := nodePos(e.value)
				d.locs[p] = vp
			} else {
				d.locs[p] = nodePos(e.keyN)
			}
		}
		d.value(e.value, v.Field(f.index), p)
	}
}

// suggest proposes the closest known field name, or lists them all.
func suggest(key string, known []string) string {
	best, bestD := "", math.MaxInt
	for _, k := range known {
		dist := levenshtein(strings.ToLower(key), strings.ToLower(k))
		if dist < bestD {
			best, bestD = k, dist
		}
	}
	if best != "" && (bestD <= 2 || strings.EqualFold(key, best)) && bestD < len(key) {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return " (fields here: " + strings.Join(known, ", ") + ")"
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// generic decodes free-form data (params, meta, metadata, fallback) into maps with string
// keys, lists, strings, ints, floats and booleans: the values a Go scenario writes as
// literals.
func (d *decoder) generic(n ast.Node, path string, depth int) (any, bool) {
	if depth > 64 {
		d.add(n, path, "value nested too deeply")
		return nil, false
	}
	r := d.resolve(n, path)
	switch x := r.(type) {
	case nil:
		return nil, true
	case ast.MapNode:
		out := map[string]any{}
		ok := true
		for _, e := range d.entries(r, path, 0) {
			val, good := d.generic(e.value, join(path, e.key), depth+1)
			ok = ok && good
			out[e.key] = val
		}
		return out, ok
	case *ast.SequenceNode:
		out := make([]any, len(x.Values))
		ok := true
		for i, item := range x.Values {
			val, good := d.generic(item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && good
			out[i] = val
		}
		return out, ok
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		return x.Value.Value, true
	case *ast.BoolNode:
		return x.Value, true
	case *ast.IntegerNode:
		switch i := x.Value.(type) {
		case int64:
			if i >= math.MinInt && i <= math.MaxInt {
				return int(i), true
			}
			return i, true
		case uint64:
			if i <= math.MaxInt {
				return int(i), true
			}
			return i, true
		}
	case *ast.FloatNode:
		return x.Value, true
	case *ast.InfinityNode:
		return x.Value, true
	case *ast.NanNode:
		return math.NaN(), true
	}
	d.add(n, path, "unsupported value %s", describe(r))
	return nil, false
}
