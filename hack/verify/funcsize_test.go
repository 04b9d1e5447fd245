package verify

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFunctionSizeRulesCatchSeededViolations tests the function size rules
// of .golangci.yml (issue #10: no function in controllers/ over 80 lines or
// over cyclomatic complexity 20) themselves: a long and a complex function
// seeded into two packages under controllers/ are reported, the same seeded
// into registrar/ (outside the rule's scope) are not.
func TestFunctionSizeRulesCatchSeededViolations(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	lint := golangciLint(t, root)
	// seededLong has 84 lines; seededComplex has cyclomatic complexity 22
	// (1 + 21 if statements).
	var long, branchy strings.Builder
	long.WriteString("func seededLong() int {\n\tn := 0\n")
	for range 82 {
		long.WriteString("\tn++\n")
	}
	long.WriteString("\treturn n\n}\n\n")
	branchy.WriteString("func seededComplex(a int) int {\n")
	for i := range 21 {
		fmt.Fprintf(&branchy, "\tif a == %d {\n\t\treturn %d\n\t}\n", i, i)
	}
	branchy.WriteString("\treturn -1\n}\n")
	body := long.String() + branchy.String()

	pkgs := map[string]bool{}
	reported := map[string]bool{"controllers": true, "controllers/backend/dynamic": true, "registrar/metadata": false}
	files := map[string]string{}
	for dir := range reported {
		files[dir] = writeSeed(t, filepath.Join(root, dir), body)
		pkgs["./"+dir+"/"] = true
	}
	out := lintSeeds(t, root, lint, "funlen,gocyclo", pkgs)
	for dir, want := range reported {
		rel, err := filepath.Rel(root, files[dir])
		if err != nil {
			t.Fatal(err)
		}
		file := regexp.QuoteMeta(filepath.ToSlash(rel))
		tooLong := regexp.MustCompile(`(?m)^` + file + `:\d+:\d+: Function 'seededLong' is too long \(8\d > 80\) \(funlen\)$`)
		tooComplex := regexp.MustCompile(`(?m)^` + file + `:\d+:\d+: cyclomatic complexity 22 of func ` + "`seededComplex`" + ` is high \(> 20\) \(gocyclo\)$`)
		if got := tooLong.Match(out); got != want {
			t.Errorf("%s: the 84-line function reported %v, want %v", rel, got, want)
		}
		if got := tooComplex.Match(out); got != want {
			t.Errorf("%s: the complexity-22 function reported %v, want %v", rel, got, want)
		}
	}
}
