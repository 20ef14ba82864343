package tools

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rawTools is a real tools/list, each tool as the JSON a client receives.
func rawTools(t *testing.T, h *harness) map[string]json.RawMessage {
	t.Helper()
	var list struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(h.raw(t, "tools/list", map[string]any{}), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, raw := range list.Tools {
		var tool struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &tool); err != nil || tool.Name == "" {
			t.Fatalf("tool without name: %s", raw)
		}
		out[tool.Name] = raw
	}
	return out
}

// TestToolSchemaSnapshots compares each tool, as tools/list sends it, with
// testdata/<name>.json. UPDATE_SNAPSHOTS=true rewrites them; a missing
// snapshot is written, except under CI, where it fails.
func TestToolSchemaSnapshots(t *testing.T) {
	h := newHarness(t, baseWorld().start(t), Settings{})
	tools := rawTools(t, h)
	if len(tools) != len(All(nil, Settings{})) {
		t.Errorf("tools/list has %d tools, All has %d", len(tools), len(All(nil, Settings{})))
	}
	update := os.Getenv("UPDATE_SNAPSHOTS") == "true"
	inCI := os.Getenv("CI") != ""
	for _, name := range sortedKeys(tools) {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			if err := json.Indent(&got, tools[name], "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", name+".json")
			want, err := os.ReadFile(path)
			switch {
			case update || (os.IsNotExist(err) && !inCI):
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", path)
			case os.IsNotExist(err):
				t.Fatalf("no snapshot %s; run UPDATE_SNAPSHOTS=true go test ./tools -run TestToolSchemaSnapshots and commit it", path)
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(got.Bytes(), want):
				t.Errorf("%s changed: every client and model sees this. If intended, run UPDATE_SNAPSHOTS=true go test ./tools -run TestToolSchemaSnapshots and commit the diff.\n%s",
					path, lineDiff(string(want), got.String()))
			}
		})
	}
	// A snapshot without its tool is a tool removed or renamed.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		if _, ok := tools[strings.TrimSuffix(filepath.Base(f), ".json")]; !ok {
			t.Errorf("%s has no tool in tools/list; delete it if the tool was removed", f)
		}
	}
}

// lineDiff lists the lines only in want (-) or only in got (+), enough to
// see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, other order or whitespace)"
	}
	return b.String()
}
