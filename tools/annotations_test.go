package tools

import (
	"encoding/json"
	"testing"
)

// TestToolAnnotations checks, over a real tools/list, that every tool is
// announced as read-only and safe (mcp-go's defaults announce destructive,
// open-world tools), has a title (at the top level, where clients of
// protocol 2025-06-18 look, and in the annotations, where older ones do),
// and declares its output schema.
func TestToolAnnotations(t *testing.T) {
	h := newHarness(t, baseWorld().start(t), Settings{})
	tools := h.listTools(t)
	if len(tools) == 0 {
		t.Fatal("tools/list is empty")
	}
	raw := rawTools(t, h)
	for _, tool := range tools {
		t.Run(tool.Name, func(t *testing.T) {
			a := tool.Annotations
			if tool.Title == "" || a.Title != tool.Title {
				t.Errorf("title %q, annotation title %q: want both, the same", tool.Title, a.Title)
			}
			for _, hint := range []struct {
				name string
				got  *bool
				want bool
			}{
				{"readOnlyHint", a.ReadOnlyHint, true},
				{"destructiveHint", a.DestructiveHint, false},
				{"idempotentHint", a.IdempotentHint, true},
				{"openWorldHint", a.OpenWorldHint, false},
			} {
				if hint.got == nil {
					t.Errorf("%s is not set (clients assume the unsafe default)", hint.name)
				} else if *hint.got != hint.want {
					t.Errorf("%s = %v, want %v", hint.name, *hint.got, hint.want)
				}
			}
			if tool.Description == "" {
				t.Error("no description")
			}

			var wire struct {
				OutputSchema struct {
					Type       string         `json:"type"`
					Properties map[string]any `json:"properties"`
				} `json:"outputSchema"`
			}
			if err := json.Unmarshal(raw[tool.Name], &wire); err != nil {
				t.Fatal(err)
			}
			if wire.OutputSchema.Type != "object" || len(wire.OutputSchema.Properties) == 0 {
				t.Errorf("no output schema: %s", raw[tool.Name])
			}
		})
	}
}
