package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"everywhere/internal/docsgen"
)

// schemaFailures are the result documents that the commands the tests ran
// wrote and that do not validate against result.schema.json.
var (
	schemaMu       sync.Mutex
	schemaFailures []string
)

// TestMain fails the package when any result document a test made did not
// validate, whichever test made it: every result.json this suite writes
// is checked against the schema.
func TestMain(m *testing.M) {
	code := m.Run()
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if len(schemaFailures) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d result documents do not validate against docs/reference/result.schema.json:\n%s\n", len(schemaFailures), strings.Join(schemaFailures, "\n"))
		code = 1
	}
	os.Exit(code)
}

// checkResultSchema validates what a command line wrote: DIR/result.json
// of -o DIR, and standard output when it is --format json.
func checkResultSchema(args []string, stdout string) {
	if len(args) > 0 && args[0] == "diff" {
		return // its JSON is a diff, not a result
	}
	var docs []string
	for i, a := range args {
		if a == "--" {
			break
		}
		if (a == "-o" || a == "--output-dir") && i+1 < len(args) {
			docs = append(docs, filepath.Join(args[i+1], "result.json"))
		}
		if (a == "--format=json" || a == "--format" && i+1 < len(args) && args[i+1] == "json") && strings.HasPrefix(stdout, "{") {
			docs = append(docs, "")
		}
	}
	for _, file := range docs {
		data := []byte(stdout)
		if file != "" {
			var err error
			if data, err = os.ReadFile(file); err != nil {
				continue // a run refused before it wrote anything
			}
		}
		err := docsgen.ValidateResult("../..", data)
		schemaMu.Lock()
		if err != nil {
			schemaFailures = append(schemaFailures, fmt.Sprintf("everywhere %s (%s): %v", strings.Join(args, " "), orStdout(file), err))
		}
		schemaMu.Unlock()
	}
}

func orStdout(file string) string {
	if file != "" {
		return file
	}
	return "stdout"
}

// TestResultSchemaRejects makes sure the check can fail: a document with a
// field the schema does not know, or a status it does not list, is refused.
func TestResultSchemaRejects(t *testing.T) {
	good := `{"schema":"everywhere.result/1.0","run_id":"r","plan":"p","started":"2026-12-07T00:00:00Z","duration_ms":1,"steps":[],"hosts":[]}`
	if err := docsgen.ValidateResult("../..", []byte(good)); err != nil {
		t.Fatalf("a minimal result does not validate: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, `"plan":"p"`, `"plan":"p","surprise":1`, 1),
		strings.Replace(good, `"hosts":[]`, `"hosts":[{"name":"a","arch":"amd64","address":"x","status":"fine","connect_ms":0,"steps":[]}]`, 1),
		strings.Replace(good, `everywhere.result/1.0`, `everywhere.result/2.0`, 1),
	} {
		if err := docsgen.ValidateResult("../..", []byte(bad)); err == nil {
			t.Errorf("validated, should not: %s", bad)
		}
	}
}
