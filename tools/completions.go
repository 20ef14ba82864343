package tools

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// CompletionOptions make the server complete the audit_tokens prompt's org
// and user arguments with the names InfluxDB lists.
func CompletionOptions(c Client, log *slog.Logger) []server.ServerOption {
	return []server.ServerOption{
		server.WithCompletions(),
		server.WithPromptCompletionProvider(promptCompletions{c, log}),
	}
}

const (
	// completionTimeout bounds the wait for InfluxDB: clients ask as the
	// user types.
	completionTimeout = 3 * time.Second
	maxCompletions    = 100 // per answer, by the MCP specification
	maxNameBytes      = 256 // longer names are not suggested
)

type promptCompletions struct {
	c   Client
	log *slog.Logger
}

func (p promptCompletions) CompletePromptArgument(ctx context.Context, prompt string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	if prompt != auditTokensPrompt || arg.Name != "org" && arg.Name != "user" {
		return &mcp.Completion{Values: []string{}}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	var names []string
	var err error
	if arg.Name == "org" {
		var orgs []influx.Organization
		orgs, err = p.c.FindOrgs(ctx, "")
		for _, o := range orgs {
			names = append(names, o.Name)
		}
	} else {
		var users []influx.User
		users, err = p.c.FindUsers(ctx, "")
		for _, u := range users {
			names = append(names, u.Name)
		}
	}
	// A lookup stopped at its page bound still suggests what it found.
	more := errors.Is(err, influx.ErrTooManyPages)
	if err != nil && !more {
		// No suggestions, rather than an error the user cannot act on while
		// typing; the name can still be typed in full.
		p.log.Debug("no completions from InfluxDB", "prompt", prompt, "argument", arg.Name, "err", err)
		return &mcp.Completion{Values: []string{}}, nil
	}
	return completion(names, arg.Value, more), nil
}

// completion returns the names that start with typed, ignoring case, in
// alphabetical order and at most maxCompletions. Names come from InfluxDB and are untrusted:
// those a person could not type or read (control and invisible formatting
// characters, invalid UTF-8, too long) are left out, not altered, because
// an altered name would match nothing.
func completion(names []string, typed string, more bool) *mcp.Completion {
	typed = strings.ToLower(typed)
	values := []string{}
	for _, n := range names {
		if suggestable(n) && strings.HasPrefix(strings.ToLower(n), typed) && !slices.Contains(values, n) {
			values = append(values, n)
		}
	}
	slices.SortFunc(values, func(a, b string) int {
		return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
	})
	if len(values) > maxCompletions {
		values, more = values[:maxCompletions], true
	}
	return &mcp.Completion{Values: values, HasMore: more}
}

func suggestable(name string) bool {
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
