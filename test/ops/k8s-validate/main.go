// k8s-validate decodes every YAML document on stdin (the output of `helm template`) with the Kubernetes API
// types themselves, strictly: an unknown kind or apiVersion, a misspelt or misplaced field, a value of the
// wrong type or a duplicate field fails it, naming the document. It prints one line per document: kind/name.
// Built by test/ops/helm-chart.test.ts from the same k8s.io modules helm v4 is built with (no schema download).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	decoder := codecs.UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	failed := false
	for index := 0; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "document %d: %v\n", index, err)
			os.Exit(2)
		}
		if len(bytes.TrimSpace(removeComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "document %d: %v\n", index, err)
			failed = true
			continue
		}
		accessor, err := meta.Accessor(obj)
		if err != nil || accessor.GetName() == "" {
			fmt.Fprintf(os.Stderr, "document %d (%s): no metadata.name\n", index, gvk.Kind)
			failed = true
			continue
		}
		fmt.Printf("%s/%s\n", gvk.Kind, accessor.GetName())
	}
	if failed {
		os.Exit(1)
	}
}

// removeComments drops whole-line YAML comments (helm's "# Source:" lines), to tell an empty document.
func removeComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 && trimmed[0] == '#' {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}
