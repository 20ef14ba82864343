package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Issue 16: the audit_tokens prompt's org and user arguments complete with
// the names InfluxDB itself lists for the configured token (none where it
// refuses), filtered by what was typed.
func TestPromptCompletionsMatchInfluxDB(t *testing.T) {
	t.Parallel()
	e := shared
	for _, caller := range []string{testserver.TokOperator, testserver.TokAuditor, testserver.TokAuditorRestricted, testserver.TokAuditorBlind} {
		t.Run(caller, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.session(t, caller, nil)
			for _, c := range []struct{ arg, path string }{{"org", "/api/v2/orgs?limit=100"}, {"user", "/api/v2/users?limit=100"}} {
				var want []string
				code, body, err := e.srv.Client(e.fx.Token(caller).Token).Raw(ctx, http.MethodGet, c.path)
				if err != nil {
					t.Fatal(err)
				}
				if code == http.StatusOK {
					var page struct{ Orgs, Users []struct{ Name string } }
					if err := json.Unmarshal(body, &page); err != nil {
						t.Fatalf("%s: %v", c.path, err)
					}
					for _, n := range append(page.Orgs, page.Users...) {
						want = append(want, n.Name)
					}
				}
				if caller == testserver.TokOperator && len(want) < 2 {
					t.Errorf("InfluxDB lists %q as %ss for the operator; the test would prove little", want, c.arg)
				}
				t.Logf("%s: InfluxDB lists %d %s names (HTTP %d)", caller, len(want), c.arg, code)
				for _, typed := range []string{"", "A", "zz"} {
					res, err := s.Client().Complete(ctx, &mcp.CompleteParams{
						Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "audit_tokens"},
						Argument: mcp.CompleteParamsArgument{Name: c.arg, Value: typed},
					})
					if err != nil {
						t.Fatalf("complete %s %q: %v", c.arg, typed, err)
					}
					var w []string
					for _, n := range want {
						if strings.HasPrefix(strings.ToLower(n), strings.ToLower(typed)) {
							w = append(w, n)
						}
					}
					got := slices.Sorted(slices.Values(res.Completion.Values))
					slices.Sort(w)
					if !slices.Equal(got, w) {
						t.Errorf("%s %q: completions %q; InfluxDB lists %q (HTTP %d)", c.arg, typed, got, w, code)
					}
				}
			}
		})
	}
}
