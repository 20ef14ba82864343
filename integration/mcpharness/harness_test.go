package mcpharness

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps failures instead of reporting them.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckNoSecrets(t *testing.T) {
	const secret = "s3cr3t-token-value_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
	for _, c := range []struct {
		name, text string
		fails      bool
	}{
		{"absent", `{"jsonrpc":"2.0","result":{}}`, false},
		{"in a message", `{"result":{"text":"token ` + secret + ` here"}}`, true},
		{"at the end", "level=INFO msg=starting token=" + secret, true},
	} {
		r := &recorder{TB: t}
		CheckNoSecrets(r, c.name, c.text, []string{"", "other-secret-never-there", secret})
		if got := len(r.errors) > 0; got != c.fails {
			t.Errorf("%s: failed %v, want %v (%q)", c.name, got, c.fails, r.errors)
		}
		for _, e := range r.errors {
			if strings.Contains(e, secret) {
				t.Errorf("%s: the failure message repeats the secret: %s", c.name, e)
			}
			if !strings.Contains(e, "secret #2") {
				t.Errorf("%s: the failure does not say which secret: %s", c.name, e)
			}
		}
	}
}

func TestCheckJSONRPCLines(t *testing.T) {
	for _, c := range []struct {
		name, out string
		fails     bool
	}{
		{"messages", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n", false},
		{"empty", "", false},
		{"a log line", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\nstarting server\n", true},
		{"JSON that is not JSON-RPC", "{\"hello\":1}\n", true},
	} {
		r := &recorder{TB: t}
		CheckJSONRPCLines(r, c.out)
		if got := len(r.errors) > 0; got != c.fails {
			t.Errorf("%s: failed %v, want %v (%q)", c.name, got, c.fails, r.errors)
		}
	}
}
