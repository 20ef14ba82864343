package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// mcp-go's input validation rejects bad arguments before a handler runs, but
// words its errors for Go programmers ("<root>: &{Properties:[usr]}"). This
// hook rewrites those tool errors so that the model reads which argument is
// wrong and what is allowed. It only changes the wording of a result that is
// already an error, and only when explain finds the arguments wrong: such a
// call never reached a handler (mcp-go's validator or, for 5.0 given for an
// integer, mcp.NewTypedToolHandler's binding turned it down), so the hook
// needs no knowledge of how mcp-go words its errors.

// argumentHints rewrites schema-validation errors of the given tools, and
// logs the rejected call at debug level (the handlers, which log the other
// calls, never see it).
func argumentHints(tools []server.ServerTool, log *slog.Logger) *server.Hooks {
	schemas := map[string]inputSchema{}
	for _, t := range tools {
		var s inputSchema
		if json.Unmarshal(t.Tool.RawInputSchema, &s) == nil {
			schemas[t.Tool.Name] = s
		}
	}
	hooks := &server.Hooks{}
	hooks.AddAfterCallTool(func(_ context.Context, _ any, req *mcp.CallToolRequest, result any) {
		res, ok := result.(*mcp.CallToolResult)
		if !ok || !res.IsError || len(res.Content) != 1 {
			return
		}
		text, ok := res.Content[0].(mcp.TextContent)
		if !ok {
			return
		}
		schema, ok := schemas[req.Params.Name]
		if !ok {
			return
		}
		msg := schema.explain(req.Params.Name, req.GetRawArguments())
		if msg == "" {
			return // valid arguments: the error is the handler's own
		}
		text.Text = msg
		res.Content[0] = text
		log.Debug("tool call rejected", "tool", req.Params.Name, "error", clipN(text.Text, 500))
	})
	return hooks
}

type inputSchema struct {
	Properties map[string]struct {
		Type any      `json:"type"`
		Enum []string `json:"enum"`
	} `json:"properties"`
	Required []string `json:"required"`
}

// explain says what is wrong with args, or "" when it finds nothing.
func (s inputSchema) explain(tool string, raw any) string {
	var args map[string]any
	switch v := raw.(type) {
	case map[string]any:
		args = v
	case json.RawMessage:
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber() // so that 5.0 and 1e19 are not taken for integers
		if dec.Decode(&args) != nil {
			return fmt.Sprintf("Invalid arguments: %s takes a JSON object of arguments.", tool)
		}
	default:
		if raw != nil {
			return fmt.Sprintf("Invalid arguments: %s takes a JSON object of arguments.", tool)
		}
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names)

	var problems []string
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		prop, known := s.Properties[k]
		switch {
		case !known:
			problems = append(problems, fmt.Sprintf("unknown argument %q (%s takes %s)", clip(k), tool, strings.Join(names, ", ")))
		case jsonKind(args[k]) == "number" && slices.Contains(typeList(prop.Type), "integer"):
			problems = append(problems, fmt.Sprintf("%s must be a whole number such as 50, written without a decimal point or exponent", k))
		case !hasType(prop.Type, args[k]):
			problems = append(problems, fmt.Sprintf("%s must be %s, not %s", k, typeWords(prop.Type), jsonKind(args[k])))
		case len(prop.Enum) > 0 && !slices.Contains(prop.Enum, fmt.Sprint(args[k])):
			problems = append(problems, fmt.Sprintf("%s %q is not allowed; use one of %s", k, clip(fmt.Sprint(args[k])), strings.Join(prop.Enum, ", ")))
		}
	}
	for _, r := range s.Required {
		if _, ok := args[r]; !ok {
			problems = append(problems, fmt.Sprintf("%s is required", r))
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return "Invalid arguments: " + strings.Join(problems, "; ") + "."
}

func hasType(schemaType, v any) bool {
	kind := jsonKind(v)
	for _, t := range typeList(schemaType) {
		if t == kind || t == "number" && kind == "integer" {
			return true
		}
	}
	return false
}

func typeList(schemaType any) []string {
	switch t := schemaType.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func typeWords(schemaType any) string {
	var words []string
	for _, t := range typeList(schemaType) {
		switch t {
		case "null":
		case "integer", "object", "array":
			words = append(words, "an "+t)
		default:
			words = append(words, "a "+t)
		}
	}
	return strings.Join(words, " or ")
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}
