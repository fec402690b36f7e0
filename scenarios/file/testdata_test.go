package file_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/testutil"
)

var update = flag.Bool("update", false, "rewrite scenarios/testdata/*.yaml from the Go suite")

const testdata = "../testdata"

// TestTestdataMatchesSuite: every scenario of the Go suite has a file under
// scenarios/testdata that decodes to exactly the same Scenario value, so the files and the
// Go suite cannot drift apart. After changing suite.go, regenerate the files with
//
//	go test ./scenarios/file -run TestTestdataMatchesSuite -update
func TestTestdataMatchesSuite(t *testing.T) {
	docs := suiteDocs(t)
	for _, s := range scenarios.Suite() {
		t.Run(s.Name, func(t *testing.T) {
			path := filepath.Join(testdata, s.Name+".yaml")
			if *update {
				body, err := file.Marshal(&s)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, append([]byte(header(&s, docs[s.Name])), body...), 0o644))
			}
			got, err := file.Load(path)
			require.NoError(t, err, "regenerate with: go test ./scenarios/file -run TestTestdataMatchesSuite -update")
			if !reflect.DeepEqual(*got, s) {
				want, _ := file.Marshal(&s)
				have, _ := file.Marshal(got)
				assert.Equal(t, string(want), string(have),
					"%s differs from scenarios.Suite(); regenerate with: go test ./scenarios/file -run TestTestdataMatchesSuite -update", path)
				t.FailNow()
			}
		})
	}
}

type suiteDoc struct{ fn, doc string }

func header(s *scenarios.Scenario, d suiteDoc) string {
	name := s.Name
	var b strings.Builder
	b.WriteString("# yaml-language-server: $schema=../schema/scenario.schema.json\n#\n")
	fmt.Fprintf(&b, "# %s: the file form of scenarios.%s() in scenarios/suite.go.\n", name, d.fn)
	if d.doc != "" {
		b.WriteString("#\n")
		for _, line := range strings.Split(strings.TrimSpace(d.doc), "\n") {
			b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	if s.Network == (scenarios.NetworkSpec{}) {
		lat, jit := testutil.NetworkSpec{}.Effective()
		fmt.Fprintf(&b, "#\n# The network is the default, realistic one: each packet's trip takes %s to %s, drawn\n# from the seed. Expected instants are exact, or within the trips that lead to them.\n", lat, lat+jit)
	}
	b.WriteString("#\n# Run it: go run ./cmd/faultline run scenarios/testdata/" + name + ".yaml\n")
	b.WriteString("# Kept equal to the Go suite by TestTestdataMatchesSuite (scenarios/file); regenerate with\n")
	b.WriteString("#   go test ./scenarios/file -run TestTestdataMatchesSuite -update\n\n")
	return b.String()
}

// suiteDocs reads the doc comment of each suite scenario's constructor in suite.go, by the
// scenario name its body sets.
func suiteDocs(t *testing.T) map[string]suiteDoc {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../suite.go", nil, parser.ParseComments)
	require.NoError(t, err)
	out := map[string]suiteDoc{}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Name" {
				if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if name, err := strconv.Unquote(lit.Value); err == nil {
						if _, seen := out[name]; !seen {
							out[name] = suiteDoc{fn: fn.Name.Name, doc: fn.Doc.Text()}
						}
					}
				}
			}
			return true
		})
	}
	return out
}

// TestTestdataFilesPass runs every scenario file under scenarios/testdata with its seed and
// expects it to pass.
func TestTestdataFilesPass(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), len(scenarios.Suite()))
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s, err := file.Load(path)
			require.NoError(t, err)
			res, err := scenarios.Run(*s, scenarios.Options{})
			require.NoError(t, err)
			for _, c := range res.Checks {
				if !c.Pass {
					t.Log(c.Message())
				}
			}
			require.Empty(t, res.Error)
			require.True(t, res.Pass, "%s failed with seed %d", path, s.Seed)
		})
	}
}
