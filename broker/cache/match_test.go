package cache

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"svc.find", "svc.find", true},
		{"svc.find", "svc.finds", false},
		{"svc.*", "svc.find", true},
		{"svc.*", "svc.find:id|5", true},
		{"svc.*", `svc.find:q|"a.b"`, false},
		{"svc.*", "svc.", true},
		{"svc.*", "svc", false},
		{"svc.*", "svcx.find", false},
		{"svc.**", `svc.find:q|"a.b"`, true},
		{"svc.**", "svc.", true},
		{"svc.**", "svc", false},
		{"**", "any.thing:at|all", true},
		{"**", "", true},
		{"*", "a", true},
		{"*", "a.b", false},
		{"*", "", true},
		{"svc.*.x", "svc.a.x", true},
		{"svc.*.x", "svc.a.b.x", false},
		{"svc.**.x", "svc.a.b.x", true},
		{"*.find:*", "svc.find:id|5", true},
		{"*.find:*", "a.svc.find:id|5", false},
		{"**.x*", "a.x.b.x1", true},
		{"*?*", "a.b", true},
		{"?", "é", true},
		{"?", "ab", false},
		{"p?sts.*", "posts.find", true},
		{"svc.ge?", "svc.get", true},
		{"svc.ge?", "svc.ge", false},
		{"a.b", "aXb", false},
		{"a|b", "a|b", true},
		{"a|b", "a", false},
		{"posts.find:[1|2]", "posts.find:[1|2]", true},
		{"posts.find:[1|2]", "posts.find:1", false},
		{"$svc.*", "$svc.x", true},
		{"a+b(c)", "a+b(c)", true},
		{"a***", "a.b.c", true},
		{"", "", true},
		{"", "a", false},
		{"svc.*.**", "svc.a", false},
		{"svc.*.**", "svc.a.", true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Match(c.pattern, c.key), "Match(%q, %q)", c.pattern, c.key)
	}
}

func TestRedisPattern(t *testing.T) {
	assert.Equal(t, "svc.*", redisPattern("svc.**"))
	assert.Equal(t, "svc.*", redisPattern("svc.*"))
	assert.Equal(t, "a*b", redisPattern("a***b"))
	assert.Equal(t, `x:\[1|2\]`, redisPattern("x:[1|2]"))
	assert.Equal(t, `a\\b?`, redisPattern(`a\b?`))
	assert.Equal(t, "MOL-", escapeRedisGlob("MOL-"))
	assert.Equal(t, `MOL-\*\?\[x\]\\-`, escapeRedisGlob(`MOL-*?[x]\-`))
	assert.Equal(t, "MOL-ns-", NewRedisPrefix("ns"))
	assert.Equal(t, "MOL-", NewRedisPrefix(""))
}
