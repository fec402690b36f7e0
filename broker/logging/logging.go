// Package logging is Moleculer's logger on log/slog: Moleculer's six levels, a level per
// module ("*" for the rest), the full, short, simple and json formatters, and console and
// file outputs. Timestamps come from a clock the caller gives (the broker's runtime), so in
// a simulation they are virtual and a seeded run logs the same bytes every time.
//
// The broker logs through an *slog.Logger (broker.Options.Logger); a handler from this
// package reads the broker's "node" attribute as the node ID and a service logger's
// "service" attribute as the module (upper-cased, as Moleculer names a service's module).
// Everything else the broker logs is module BROKER.
package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// Moleculer's levels as slog levels. Info, Warn, Error and Debug are slog's own, so a
// logger made here serves code that only knows slog.
const (
	LevelTrace = slog.Level(-8)
	LevelDebug = slog.LevelDebug
	LevelInfo  = slog.LevelInfo
	LevelWarn  = slog.LevelWarn
	LevelError = slog.LevelError
	LevelFatal = slog.Level(12)
)

// levelOff is above every level: a module set to "off" (Moleculer's false) logs nothing.
const levelOff = slog.Level(1 << 20)

// ParseLevel reads a Moleculer level name: fatal, error, warn, info, debug, trace, or off.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fatal":
		return LevelFatal, nil
	case "error":
		return LevelError, nil
	case "warn":
		return LevelWarn, nil
	case "info":
		return LevelInfo, nil
	case "debug":
		return LevelDebug, nil
	case "trace":
		return LevelTrace, nil
	case "off", "false":
		return levelOff, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q (fatal, error, warn, info, debug, trace, off)", s)
}

// LevelName is the lower-case Moleculer name of a level; levels between two named ones take
// the lower name (slog.LevelInfo+2 is "info").
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelFatal:
		return "fatal"
	case l >= LevelError:
		return "error"
	case l >= LevelWarn:
		return "warn"
	case l >= LevelInfo:
		return "info"
	case l >= LevelDebug:
		return "debug"
	}
	return "trace"
}

// Formatters.
const (
	Full   = "full"   // [2026-01-01T00:00:00.000Z] INFO  node-1/BROKER: message k=v
	Short  = "short"  // [00:00:00.000Z] INFO  BROKER: message k=v
	Simple = "simple" // INFO  - message k=v
	JSON   = "json"   // {"ts":1767225600000,"level":"info","msg":"message","nodeID":"node-1","ns":"","mod":"broker","k":"v"}
)

// Options configure a handler.
type Options struct {
	// Formatter is Full (the default), Short, Simple or JSON.
	Formatter string
	// Levels maps a module (BROKER, TRANSIT, a service's upper-cased name; globs with '*'
	// allowed) to its lowest level. "*" is every other module; without it they log at info.
	// An exact name wins over a glob, a longer glob over a shorter one.
	Levels map[string]string
	// Clock timestamps records; nil uses the record's own (wall-clock) time. Give the
	// broker's runtime, so that a simulated run's logs carry virtual time.
	Clock rt.Clock
	// NodeID and Namespace are printed when no "node" attribute names the node.
	NodeID    string
	Namespace string
}

// levelRule is one entry of the level map.
type levelRule struct {
	pattern string
	level   slog.Level
}

// core is what every handler derived from one NewHandler shares: the sink and its lock.
type core struct {
	mu     sync.Mutex
	w      io.Writer
	format string
	clock  rt.Clock
	ns     string
	exact  map[string]slog.Level
	globs  []levelRule // longest first
	def    slog.Level
}

// Handler is a slog.Handler writing Moleculer's formats.
type Handler struct {
	c      *core
	nodeID string
	mod    string
	level  slog.Level // the module's threshold, resolved when mod is set
	attrs  []byte     // pre-rendered bound attributes (text formats)
	jattrs []slog.Attr
	groups []string
}

// NewHandler returns a handler writing to w. It fails on an unknown formatter or level.
func NewHandler(w io.Writer, o Options) (*Handler, error) {
	format := o.Formatter
	if format == "" {
		format = Full
	}
	switch format {
	case Full, Short, Simple, JSON:
	default:
		return nil, fmt.Errorf("logging: unknown formatter %q (full, short, simple, json)", o.Formatter)
	}
	c := &core{w: w, format: format, clock: o.Clock, ns: o.Namespace, exact: map[string]slog.Level{}, def: LevelInfo}
	for mod, name := range o.Levels {
		l, err := ParseLevel(name)
		if err != nil {
			return nil, fmt.Errorf("logging: module %s: %w", mod, err)
		}
		switch {
		case mod == "*" || mod == "**":
			c.def = l
		case strings.Contains(mod, "*"):
			c.globs = append(c.globs, levelRule{strings.ToUpper(mod), l})
		default:
			c.exact[strings.ToUpper(mod)] = l
		}
	}
	slices.SortFunc(c.globs, func(a, b levelRule) int {
		if d := len(b.pattern) - len(a.pattern); d != 0 {
			return d
		}
		return strings.Compare(a.pattern, b.pattern)
	})
	h := &Handler{c: c, nodeID: o.NodeID}
	h.setMod("BROKER")
	return h, nil
}

// New is NewHandler wrapped in a logger; it panics on bad options (for tests and examples).
func New(w io.Writer, o Options) *slog.Logger {
	h, err := NewHandler(w, o)
	if err != nil {
		panic(err)
	}
	return slog.New(h)
}

// LevelOf returns the level a module logs at under this handler's level map.
func (h *Handler) LevelOf(mod string) slog.Level { return h.c.levelOf(strings.ToUpper(mod)) }

func (c *core) levelOf(mod string) slog.Level {
	if l, ok := c.exact[mod]; ok {
		return l
	}
	for _, g := range c.globs {
		if ok, _ := path.Match(g.pattern, mod); ok {
			return g.level
		}
	}
	return c.def
}

func (h *Handler) setMod(mod string) {
	h.mod = mod
	h.level = h.c.levelOf(mod)
}

// Enabled implements slog.Handler: the module's level decides, so a disabled debug line
// costs one comparison.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

// WithAttrs implements slog.Handler. The attributes "node", "service" and "mod" bind the
// node ID and the module instead of being printed.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := h.clone()
	for _, a := range as {
		if len(n.groups) == 0 {
			switch a.Key {
			case "node":
				n.nodeID = a.Value.String()
				continue
			case "service", "mod":
				n.setMod(strings.ToUpper(a.Value.String()))
				continue
			}
		}
		n.attrs = appendAttr(n.attrs, n.groups, a)
		n.jattrs = append(n.jattrs, n.grouped(a))
	}
	return n
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := h.clone()
	n.groups = append(slices.Clone(h.groups), name)
	return n
}

func (h *Handler) clone() *Handler {
	n := *h
	n.attrs = slices.Clip(h.attrs)
	n.jattrs = slices.Clip(h.jattrs)
	return &n
}

// grouped nests a in the handler's open groups, for the json formatter.
func (h *Handler) grouped(a slog.Attr) slog.Attr {
	for i := len(h.groups) - 1; i >= 0; i-- {
		a = slog.Attr{Key: h.groups[i], Value: slog.GroupValue(a)}
	}
	return a
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if h.c.clock != nil {
		t = h.c.clock.Now()
	}
	t = t.UTC()
	var buf []byte
	if h.c.format == JSON {
		buf = h.json(t, r)
	} else {
		buf = h.text(t, r)
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	_, err := h.c.w.Write(buf)
	return err
}

// levelTag is the level upper-cased and padded to five, as Moleculer prints it.
func levelTag(l slog.Level) string {
	s := strings.ToUpper(LevelName(l))
	return s + strings.Repeat(" ", 5-len(s))
}

// jsTime formats t as JavaScript's Date.toISOString does: milliseconds and a Z.
func jsTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }

func (h *Handler) text(t time.Time, r slog.Record) []byte {
	buf := make([]byte, 0, 128)
	switch h.c.format {
	case Full:
		buf = append(buf, '[')
		buf = append(buf, jsTime(t)...)
		buf = append(buf, "] "...)
		buf = append(buf, levelTag(r.Level)...)
		buf = append(buf, ' ')
		buf = append(buf, h.nodeID...)
		buf = append(buf, '/')
		buf = append(buf, h.mod...)
		buf = append(buf, ": "...)
	case Short:
		buf = append(buf, '[')
		buf = append(buf, jsTime(t)[11:]...)
		buf = append(buf, "] "...)
		buf = append(buf, levelTag(r.Level)...)
		buf = append(buf, ' ')
		buf = append(buf, h.mod...)
		buf = append(buf, ": "...)
	case Simple:
		buf = append(buf, levelTag(r.Level)...)
		buf = append(buf, " - "...)
	}
	buf = append(buf, r.Message...)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.groups, a)
		return true
	})
	return append(buf, '\n')
}

// appendAttr renders " key=value" (groups as dotted prefixes), quoting values with spaces.
func appendAttr(buf []byte, groups []string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		gs := groups
		if a.Key != "" {
			gs = append(slices.Clone(groups), a.Key)
		}
		for _, sub := range a.Value.Group() {
			buf = appendAttr(buf, gs, sub)
		}
		return buf
	}
	buf = append(buf, ' ')
	for _, g := range groups {
		buf = append(buf, g...)
		buf = append(buf, '.')
	}
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	var s string
	switch a.Value.Kind() {
	case slog.KindString:
		s = a.Value.String()
	case slog.KindDuration:
		s = a.Value.Duration().String()
	case slog.KindTime:
		s = jsTime(a.Value.Time().UTC())
	default:
		s = fmt.Sprint(a.Value.Any())
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func (h *Handler) json(t time.Time, r slog.Record) []byte {
	// Moleculer's json line: ts (epoch milliseconds), level, msg, then the bindings; the
	// record's attributes follow in order. Keys are written in this order, not sorted.
	buf := make([]byte, 0, 160)
	buf = append(buf, `{"ts":`...)
	buf = strconv.AppendInt(buf, t.UnixMilli(), 10)
	buf = append(buf, `,"level":`...)
	buf = strconv.AppendQuote(buf, LevelName(r.Level))
	buf = appendJSONField(buf, "msg", r.Message)
	buf = appendJSONField(buf, "nodeID", h.nodeID)
	buf = appendJSONField(buf, "ns", h.c.ns)
	buf = appendJSONField(buf, "mod", strings.ToLower(h.mod))
	for _, a := range h.jattrs {
		buf = appendJSONAttr(buf, a)
	}
	r.Attrs(func(a slog.Attr) bool {
		buf = appendJSONAttr(buf, h.grouped(a))
		return true
	})
	return append(buf, "}\n"...)
}

func appendJSONField(buf []byte, key string, v any) []byte {
	buf = append(buf, ',')
	k, _ := json.Marshal(key)
	buf = append(buf, k...)
	buf = append(buf, ':')
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v))
	}
	return append(buf, b...)
}

func appendJSONAttr(buf []byte, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	return appendJSONField(buf, a.Key, jsonValue(a.Value))
}

func jsonValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindGroup:
		m := map[string]any{}
		for _, a := range v.Group() {
			m[a.Key] = jsonValue(a.Value.Resolve())
		}
		return m
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return jsTime(v.Time().UTC())
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
	}
	return v.Any()
}

// FileName is Moleculer's file logger name, logs/faultline-{date}-{nodeID}.log, under dir:
// the date is the clock's (virtual in a simulation), as YYYY-MM-DD.
func FileName(dir, nodeID string, clock rt.Clock) string {
	return filepath.Join(dir, "faultline-"+clock.Now().UTC().Format("2006-01-02")+"-"+nodeID+".log")
}

// OpenFile creates dir and opens (appends to) the node's log file named by FileName.
func OpenFile(dir, nodeID string, clock rt.Clock) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	f, err := os.OpenFile(FileName(dir, nodeID, clock), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	return f, nil
}
