package e2e

import (
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// TestNoSecretsAtDebugLevel runs sessions at INFLUX_LOG_LEVEL=debug through
// every kind of answer — lists, details, InfluxDB's errors, argument
// errors, the prompt — as the operator and with a wrong token, and then
// (through mcpharness) checks that no fixture token value appears in any
// message, on stdout or on stderr. Every other session is checked the same
// way at the default level.
func TestNoSecretsAtDebugLevel(t *testing.T) {
	t.Parallel()
	e := shared
	debug := map[string]string{"INFLUX_LOG_LEVEL": "debug"}
	for _, caller := range []string{testserver.TokOperator, e.fx.WrongToken, testserver.TokAuditorBlind} {
		name := caller
		if caller == e.fx.WrongToken {
			name = "wrong-token"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.session(t, caller, debug)
			for _, args := range []map[string]any{
				{}, {"limit": 0}, {"limit": 500}, {"user": "nosuch-user"}, {"org": "nosuch-org"},
				{"userID": unknownID(e)}, {"status": "bogus"}, {"limit": 9999},
				{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
				{"resourceType": "buckets", "resourceName": "scratch"},
			} {
				s.Call(ctx, t, "list_tokens", args)
			}
			for _, n := range e.fx.TokenNames() {
				s.Call(ctx, t, "get_token", map[string]any{"authID": e.fx.Tokens[n].ID})
			}
			s.Call(ctx, t, "get_token", map[string]any{"authID": unknownID(e)})
			s.Call(ctx, t, "get_token", map[string]any{"authID": "not-an-id"})
			s.Prompt(ctx, t, "audit_tokens", nil)
			s.Close() // checks stdout, stderr and every message for secrets
			stderr := s.Stderr()
			if !strings.Contains(stderr, "level=DEBUG") || !strings.Contains(stderr, "tool call") {
				t.Errorf("no debug log of tool calls on stderr; is INFLUX_LOG_LEVEL=debug honoured?\n%s", stderr)
			}
		})
	}
}
