// Command yamlcheck reads YAML files the way kubectl and Flux do and prints,
// for every non-empty document, the JSON that sigs.k8s.io/yaml produces.
//
// Usage: yamlcheck FILE...
//
// Output: one JSON object per line:
//
//	{"file":"a.yaml","doc":0,"line":1,"json":{...}}
//	{"file":"a.yaml","doc":1,"line":9,"error":"..."}
//
// "doc" counts only non-empty documents (a document that decodes to null is
// skipped), so it lines up with a YAML 1.2 parser that skips empty documents.
// "line" is the 1-based line where the document's text starts. A file that
// cannot be read yields a single line with "doc": -1 and "error".
// The exit status is 0 unless the arguments are wrong or stdout fails.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type record struct {
	File  string          `json:"file"`
	Doc   int             `json:"doc"`
	Line  int             `json:"line"`
	JSON  json.RawMessage `json:"json,omitempty"`
	Error string          `json:"error,omitempty"`
}

type chunk struct {
	line int
	text []byte
}

// isSeparator reports whether a line is a document separator as kubectl's
// YAML reader sees it: "---" at column 0, followed by nothing but blanks or
// a comment.
func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(line[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// split cuts a stream into documents on separator lines.
func split(data []byte) []chunk {
	var out []chunk
	cur := chunk{line: 1}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		end := bytes.IndexByte(data, '\n')
		var line []byte
		if end < 0 {
			line, data = data, nil
		} else {
			line, data = data[:end+1], data[end+1:]
		}
		if isSeparator(bytes.TrimRight(line, "\r\n")) {
			out = append(out, cur)
			cur = chunk{line: lineNo + 1}
			continue
		}
		cur.text = append(cur.text, line...)
	}
	return append(out, cur)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: yamlcheck FILE...")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	emit := func(r record) {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "yamlcheck:", err)
			os.Exit(1)
		}
	}
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			emit(record{File: file, Doc: -1, Error: err.Error()})
			continue
		}
		doc := 0
		for _, c := range split(data) {
			if len(bytes.TrimSpace(c.text)) == 0 {
				continue
			}
			j, err := yaml.YAMLToJSON(c.text)
			if err != nil {
				emit(record{File: file, Doc: doc, Line: c.line, Error: err.Error()})
				doc++
				continue
			}
			if string(bytes.TrimSpace(j)) == "null" {
				continue
			}
			emit(record{File: file, Doc: doc, Line: c.line, JSON: j})
			doc++
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "yamlcheck:", err)
		os.Exit(1)
	}
}
