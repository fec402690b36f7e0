package cache

import (
	"regexp"
	"strings"
)

// Match reports whether key matches the clean pattern: `*` matches any run of characters
// other than `.` (it stays within one dot-separated segment), `**` matches any run at all,
// `?` matches exactly one character, and every other character matches itself.
//
// This is the glob Moleculer's memory cachers use for clean. Moleculer compiles it to a
// JavaScript regular expression without escaping the rest of the pattern, so there `.`, `|`,
// `[` or `+` in a pattern act as regex syntax; cache keys are full of `|` and `[`, so
// Faultline matches every other character literally instead.
func Match(pattern, key string) bool {
	return compileGlob(pattern).match(key)
}

// glob is a compiled clean pattern. The common shapes (exact, "svc.**", "svc.*", "**") are
// matched with string operations; anything else goes through an RE2 regexp, which is linear
// in the key (a hand-written backtracking matcher is not, once `*`, `**` and `?` mix).
type glob struct {
	kind   globKind
	prefix string // exact text, or the text before a trailing star
	re     *regexp.Regexp
}

type globKind uint8

const (
	globExact globKind = iota
	globAll
	globPrefixAny     // prefix**
	globPrefixSegment // prefix*
	globRegexp
)

func compileGlob(pattern string) glob {
	star := strings.IndexByte(pattern, '*')
	if !strings.Contains(pattern, "?") {
		switch {
		case star < 0:
			return glob{kind: globExact, prefix: pattern}
		case strings.Count(pattern, "*") == 2 && strings.HasSuffix(pattern, "**"):
			if star == 0 {
				return glob{kind: globAll}
			}
			return glob{kind: globPrefixAny, prefix: pattern[:star]}
		case strings.Count(pattern, "*") == 1 && star == len(pattern)-1:
			return glob{kind: globPrefixSegment, prefix: pattern[:star]}
		}
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pattern); {
		switch pattern[i] {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(`.*`)
				for i < len(pattern) && pattern[i] == '*' {
					i++
				}
				continue
			}
			b.WriteString(`[^.]*`)
			i++
		case '?':
			b.WriteString(`.`)
			i++
		default:
			j := i
			for j < len(pattern) && pattern[j] != '*' && pattern[j] != '?' {
				j++
			}
			b.WriteString(regexp.QuoteMeta(pattern[i:j]))
			i = j
		}
	}
	b.WriteString(`$`)
	return glob{kind: globRegexp, re: regexp.MustCompile(b.String())}
}

func (g glob) match(key string) bool {
	switch g.kind {
	case globExact:
		return key == g.prefix
	case globAll:
		return true
	case globPrefixAny:
		return strings.HasPrefix(key, g.prefix)
	case globPrefixSegment:
		return strings.HasPrefix(key, g.prefix) && !strings.Contains(key[len(g.prefix):], ".")
	default:
		return g.re.MatchString(key)
	}
}

// globSet is a list of patterns compiled once for a whole clean pass.
type globSet []glob

func compileGlobs(patterns []string) globSet {
	gs := make(globSet, len(patterns))
	for i, p := range patterns {
		gs[i] = compileGlob(p)
	}
	return gs
}

func (gs globSet) match(key string) bool {
	for _, g := range gs {
		if g.match(key) {
			return true
		}
	}
	return false
}
