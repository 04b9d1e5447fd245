package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// sample is one document of a samples file.
type sample struct {
	source string // file:document, for messages
	obj    *unstructured.Unstructured
}

func (s sample) String() string {
	if ns := s.obj.GetNamespace(); ns != "" {
		return s.obj.GetKind() + " " + ns + "/" + s.obj.GetName()
	}
	return s.obj.GetKind() + " " + s.obj.GetName()
}

// loadSamples reads every document of every *.yaml and *.yml file in dir (not
// recursively), in file name order. Empty documents and kustomize files
// (kustomization.yaml) are skipped.
func loadSamples(dir string) ([]sample, error) {
	return loadTemplatedSamples(dir, nil)
}

// loadTemplatedSamples is loadSamples for a directory whose files use
// ${NAME} placeholders: each is replaced by vars[NAME] before the YAML is
// parsed, and a placeholder vars does not define is an error. With nil vars
// the files are read as they are.
func loadTemplatedSamples(dir string, vars map[string]string) ([]sample, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading samples directory: %w", err)
	}
	var out []sample
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading sample: %w", err)
		}
		if vars != nil {
			if data, err = expand(data, vars); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		objs, err := decodeSamples(path, data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no objects found in %s", dir)
	}
	return out, nil
}

// placeholder is a ${NAME} in a templated sample.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// expand replaces every ${NAME} in data by vars[NAME]; it fails on the
// first name vars does not define.
func expand(data []byte, vars map[string]string) ([]byte, error) {
	var missing []string
	out := placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(placeholder.FindSubmatch(m)[1])
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("undefined placeholder(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// decodeFile splits a multi-document YAML (or JSON) file and decodes each
// document into an Unstructured.
func decodeFile(path string) ([]sample, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("opening sample: %w", err)
	}
	return decodeSamples(path, data)
}

// decodeSamples splits data, the content of the file path, into documents
// and decodes each into an Unstructured.
func decodeSamples(path string, data []byte) ([]sample, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []sample
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading document %d: %w", path, i, err)
		}
		src := fmt.Sprintf("%s (document %d)", path, i)
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if js = bytes.TrimSpace(js); len(js) == 0 || string(js) == "null" {
			continue // empty document, e.g. only comments
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if gv.Group == "kustomize.config.k8s.io" {
			continue
		}
		if u.GetName() == "" {
			return nil, fmt.Errorf("%s: %s has no metadata.name", src, u.GetKind())
		}
		out = append(out, sample{source: src, obj: u})
	}
}

// applyOrder puts what others depend on first: namespaces, then servers, then
// clients. The operator would converge in any order; this one avoids a round
// of ServerNotFound conditions.
func applyOrder(s sample) int {
	switch s.obj.GetKind() {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	case string(oauthv1alpha1.KindClusterAuthorizationServer):
		return 2
	case string(oauthv1alpha1.KindAuthorizationServer):
		return 3
	case "OAuthClient":
		return 5
	}
	return 4
}

// applySamples creates the samples. Namespaced objects without a namespace go
// to "default"; namespaces they name are created when missing. Unknown fields
// are rejected (strict field validation) so that a typo in a sample fails
// loudly instead of being dropped.
func applySamples(ctx context.Context, k8s client.Client, samples []sample, out io.Writer) ([]sample, error) {
	ordered := slices.Clone(samples)
	slices.SortStableFunc(ordered, func(a, b sample) int { return applyOrder(a) - applyOrder(b) })
	for _, s := range ordered {
		namespaced, err := k8s.IsObjectNamespaced(s.obj)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s is not a known resource: %w", s.source, s.obj.GetAPIVersion(), s.obj.GetKind(), err)
		}
		if namespaced {
			if s.obj.GetNamespace() == "" {
				s.obj.SetNamespace("default")
			}
			if err := ensureNamespace(ctx, k8s, s.obj.GetNamespace()); err != nil {
				return nil, err
			}
		} else if s.obj.GetNamespace() != "" {
			return nil, fmt.Errorf("%s: %s is cluster-scoped but sets metadata.namespace", s.source, s)
		}
		if err := k8s.Create(ctx, s.obj, client.FieldValidation("Strict")); err != nil {
			if s.obj.GetKind() == "Namespace" && apierrors.IsAlreadyExists(err) {
				fmt.Fprintf(out, "  %s exists\n", s)
				continue
			}
			return nil, fmt.Errorf("%s: creating %s: %w", s.source, s, err)
		}
		fmt.Fprintf(out, "  created %s\n", s)
	}
	return ordered, nil
}
