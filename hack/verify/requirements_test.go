package verify

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// catalogue is the requirement catalogue, relative to the repository root.
const catalogue = "docs/requirements.md"

var (
	// requirementID is anything shaped like a requirement id (REG-12,
	// MGT-03, SCI-07, ...), whatever its prefix, so that an id from a
	// catalogue this repository does not hold is caught too.
	requirementID = regexp.MustCompile(`\b[A-Z]{2,4}-[0-9]{2,3}\b`)
	// notRequirement are names of that shape that are not requirement ids.
	notRequirement = regexp.MustCompile(`^(AES|DSA|KEM|OAEP|SHA|UTF)-`)
	// catalogueEntry is the heading of one entry of the catalogue.
	catalogueEntry = regexp.MustCompile(`^### ([A-Z]{2,4}-[0-9]{2,3})$`)
)

// scanned says which files may cite requirements: source, scripts, docs and
// manifests.
func scanned(name string) bool {
	switch filepath.Ext(name) {
	case ".go", ".mjs", ".js", ".cjs", ".ts", ".sh", ".md", ".yaml", ".yml", ".tpl", ".txt":
		return true
	}
	return name == "Makefile" || name == "Dockerfile"
}

// TestRequirementIDs keeps the requirement ids cited in the repository and
// the catalogue in step: every id a file mentions has an entry in
// docs/requirements.md, and every entry there is mentioned somewhere else.
func TestRequirementIDs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := os.ReadFile(filepath.Join(root, catalogue))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "bin", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == catalogue || !d.Type().IsRegular() || !scanned(d.Name()) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, problems := checkRequirements(cat, files)
	// A walk that found nothing would pass for the wrong reason.
	if len(entries) < 100 {
		t.Errorf("%s has %d entries; expected the catalogue of well over 100 ids", catalogue, len(entries))
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheckRequirementsReportsBothDirections feeds checkRequirements a
// catalogue and files that disagree in every way it looks for.
func TestCheckRequirementsReportsBothDirections(t *testing.T) {
	// The ids are written with '_' so that this file cites none of them;
	// seed turns them into ids.
	seed := strings.NewReplacer("_", "-").Replace
	cat := []byte(seed("# Catalogue\n\n### REG_01\n\nText citing REG_02.\n\n### REG_03\n\n### MGT_07\n\n### MGT_07\n"))
	files := map[string][]byte{
		"a/a.go":    []byte(seed("// REG_01 and REG_01 again, SHA_256 and UTF_16 are no ids.\n")),
		"README.md": []byte(seed("See MGT_07.\n\nAnd LEG_04 (a catalogue we lack).\n")),
	}
	entries, problems := checkRequirements(cat, files)
	if want := []string{seed("MGT_07"), seed("REG_01"), seed("REG_03")}; !slices.Equal(entries, want) {
		t.Errorf("entries = %v, want %v", entries, want)
	}
	want := []string{
		catalogue + seed(": MGT_07 has two entries"),
		catalogue + seed(":5: mentions REG_02, which has no entry"),
		seed("README.md:3: mentions LEG_04, which has no entry in ") + catalogue,
		catalogue + seed(": REG_03 is mentioned nowhere else; remove its entry or cite it"),
	}
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

// checkRequirements returns the ids the catalogue cat lists (sorted) and
// what is wrong: ids mentioned in files (path to content) or in the
// catalogue's own text without an entry, entries listed twice, and entries
// no file mentions.
func checkRequirements(cat []byte, files map[string][]byte) (entries, problems []string) {
	listed := map[string]bool{}
	var catMentions []mention
	for i, line := range lines(cat) {
		if m := catalogueEntry.FindStringSubmatch(line); m != nil {
			if listed[m[1]] {
				problems = append(problems, fmt.Sprintf("%s: %s has two entries", catalogue, m[1]))
				continue
			}
			listed[m[1]] = true
			entries = append(entries, m[1])
			continue
		}
		for _, id := range ids(line) {
			catMentions = append(catMentions, mention{catalogue, i + 1, id})
		}
	}
	sort.Strings(entries)
	for _, m := range catMentions {
		if !listed[m.id] {
			problems = append(problems, fmt.Sprintf("%s:%d: mentions %s, which has no entry", m.path, m.line, m.id))
		}
	}

	cited := map[string]bool{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for i, line := range lines(files[p]) {
			for _, id := range ids(line) {
				cited[id] = true
				if !listed[id] {
					problems = append(problems, fmt.Sprintf("%s:%d: mentions %s, which has no entry in %s", p, i+1, id, catalogue))
				}
			}
		}
	}
	for _, id := range entries {
		if !cited[id] {
			problems = append(problems, fmt.Sprintf("%s: %s is mentioned nowhere else; remove its entry or cite it", catalogue, id))
		}
	}
	return entries, problems
}

type mention struct {
	path string
	line int
	id   string
}

// ids returns the requirement ids on one line.
func ids(line string) []string {
	var out []string
	for _, id := range requirementID.FindAllString(line, -1) {
		if !notRequirement.MatchString(id) {
			out = append(out, id)
		}
	}
	return out
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
