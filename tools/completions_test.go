package tools

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

// complete asks for completions of one argument of a prompt.
func (h *harness) complete(t *testing.T, prompt, arg, typed string) (values []string, hasMore bool) {
	t.Helper()
	raw := h.raw(t, "completion/complete", map[string]any{
		"ref":      map[string]any{"type": "ref/prompt", "name": prompt},
		"argument": map[string]any{"name": arg, "value": typed},
	})
	var res struct {
		Completion struct {
			Values  []string `json:"values"`
			HasMore bool     `json:"hasMore"`
		} `json:"completion"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.Completion.Values == nil {
		t.Fatalf("completion/complete: %s (%v)", raw, err)
	}
	return res.Completion.Values, res.Completion.HasMore
}

func TestPromptCompletionsComeFromInfluxDB(t *testing.T) {
	w := baseWorld()
	w.Orgs = append(w.Orgs,
		fakeinflux.Org{ID: "5bb51bdadf9c0ae4", Name: "Acme-EU"},
		fakeinflux.Org{ID: "5bb51bdadf9c0ae5", Name: "acme\x1b[2J"},                     // terminal escape
		fakeinflux.Org{ID: "5bb51bdadf9c0ae6", Name: "acme\u202egnp.exe"},               // right-to-left override
		fakeinflux.Org{ID: "5bb51bdadf9c0ae7", Name: "acme" + strings.Repeat("x", 300)}, // not typeable
		fakeinflux.Org{ID: "5bb51bdadf9c0ae8", Name: "acme-ünïcode 名前"},
	)
	h := newHarness(t, w.start(t), Settings{})
	for _, tc := range []struct {
		arg, typed string
		want       []string
	}{
		{"org", "", []string{"acme", "Acme-EU", "acme-ünïcode 名前", "globex", "initech"}},
		{"org", "AC", []string{"acme", "Acme-EU", "acme-ünïcode 名前"}},
		{"org", "glo", []string{"globex"}},
		{"org", "zzz", []string{}},
		{"user", "a", []string{"admin", "alice"}},
		{"user", "", []string{"admin", "alice", "bob", "carol"}},
		{"nope", "a", []string{}},
	} {
		got, more := h.complete(t, "audit_tokens", tc.arg, tc.typed)
		if !slices.Equal(got, tc.want) || more {
			t.Errorf("%s %q: %q (hasMore %v), want %q", tc.arg, tc.typed, got, more, tc.want)
		}
	}
	if got, _ := h.complete(t, "other_prompt", "org", ""); len(got) != 0 {
		t.Errorf("another prompt: %q, want none", got)
	}
}

// Names are read from every page InfluxDB has; past the 100 suggestions
// an answer may hold, it says there are more.
func TestPromptCompletionsSayWhenThereAreMore(t *testing.T) {
	w := baseWorld()
	w.Users = nil
	for i := range 250 {
		w.Users = append(w.Users, fakeinflux.User{ID: fmt.Sprintf("11b2f4c47da1%04x", i), Name: fmt.Sprintf("user%03d", i)})
	}
	h := newHarness(t, w.start(t), Settings{})
	if got, more := h.complete(t, "audit_tokens", "user", "user24"); !slices.Equal(got, []string{"user240", "user241", "user242", "user243", "user244", "user245", "user246", "user247", "user248", "user249"}) || more {
		t.Errorf("user24: %q, hasMore %v; want user240 to user249 (on the third page) and no more", got, more)
	}
	if got, more := h.complete(t, "audit_tokens", "user", "user"); len(got) != 100 || got[0] != "user000" || !more {
		t.Errorf("user: %d names from %q, hasMore %v; want the first 100 and hasMore", len(got), got[:min(1, len(got))], more)
	}
}

// An InfluxDB that cannot be reached, or refuses, gives no suggestions and
// no error.
func TestPromptCompletionsWithoutInfluxDB(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		h := newHarnessAt(t, fakeinflux.ClosedPortURL(t), nil, Settings{})
		if got, more := h.complete(t, "audit_tokens", "org", "a"); len(got) != 0 || more {
			t.Errorf("%q, want none", got)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		f := baseWorld().start(t)
		f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/api/v2/users" {
				return false
			}
			fakeinflux.WriteError(w, http.StatusForbidden, "forbidden", "insufficient permissions for read:users", false)
			return true
		})
		h := newHarness(t, f, Settings{})
		if got, _ := h.complete(t, "audit_tokens", "user", ""); len(got) != 0 {
			t.Errorf("%q, want none", got)
		}
	})
}
