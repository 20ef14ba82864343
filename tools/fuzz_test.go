package tools

// Fuzz targets for what a language model and an MCP client send: tool
// arguments (through the production server and a real influx.Client whose
// every request is checked) and raw stdio input (through Serve). Seed
// corpora are in testdata/fuzz/<target>/; .ci/fuzz.sh runs each target
// for a fixed time.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

const (
	fuzzConfiguredToken = "FUZZ-configured-token-0e1d2c3b4a59687f=="
	fuzzReturnedToken   = "FUZZ-returned-token-9f8e7d6c5b4a3928=="
)

// checkingTransport is InfluxDB for the fuzz target: it answers every
// request the client may make and records any request it must never make.
type checkingTransport struct {
	mu       sync.Mutex
	problems []string
}

func (c *checkingTransport) problem(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

func (c *checkingTransport) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems
	c.problems = nil
	return p
}

func (c *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "Token "+fuzzConfiguredToken {
		c.problem("Authorization header %q", req.Header.Get("Authorization"))
	}
	if req.Method != http.MethodGet {
		c.problem("method %s", req.Method)
	}
	auth := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"token":%q,"status":"active","description":"d","orgID":"2ee51bdadf9c0ae1","org":"acme","userID":"11b2f4c47da08000","user":"alice","permissions":[{"action":"write","resource":{"type":"buckets","id":"1b8b4c1613714666","name":"telegraf","orgID":"2ee51bdadf9c0ae1","org":"acme"}},{"action":"read","resource":{"type":"authorizations"}}],"createdAt":"2025-01-15T09:30:00Z","updatedAt":"2025-01-15T09:30:00Z"}`, id, fuzzReturnedToken)
	}
	allowed := map[string][]string{
		"/api/v2/authorizations": {"user", "userID", "org", "orgID"},
		"/api/v2/buckets":        {"name", "limit", "offset"},
		"/api/v2/orgs":           {"org"},
	}
	var body string
	path := req.URL.EscapedPath()
	keys, known := allowed[path]
	switch {
	case path == "/api/v2/authorizations":
		body = fmt.Sprintf(`{"authorizations":[%s,%s]}`, auth("0a00000000000001"), auth("0a00000000000002"))
	case path == "/api/v2/buckets":
		body = `{"buckets":[{"id":"1b8b4c1613714666","name":"telegraf","orgID":"2ee51bdadf9c0ae1"}]}`
	case path == "/api/v2/orgs":
		body = `{"orgs":[{"id":"2ee51bdadf9c0ae1","name":"acme"}]}`
	case strings.HasPrefix(path, "/api/v2/buckets/"):
		if id := strings.TrimPrefix(path, "/api/v2/buckets/"); influx.ValidateID(id) != nil {
			c.problem("request with an unvalidated ID: %q", path)
		}
		body = `{"id":"1b8b4c1613714666","name":"telegraf","orgID":"2ee51bdadf9c0ae1"}`
	case strings.HasPrefix(path, "/api/v2/authorizations/"):
		id := strings.TrimPrefix(path, "/api/v2/authorizations/")
		if influx.ValidateID(id) != nil {
			c.problem("request with an unvalidated ID: %q", path)
		}
		body = auth(id)
	default:
		c.problem("request to %q", path)
	}
	for _, id := range []string{"userID", "orgID", "id"} {
		if v := req.URL.Query().Get(id); v != "" && influx.ValidateID(v) != nil {
			c.problem("query %s=%q is not a valid ID", id, v)
		}
	}
	if known {
		for k := range req.URL.Query() {
			ok := false
			for _, a := range keys {
				ok = ok || a == k
			}
			if !ok {
				c.problem("query parameter %q on %s", k, path)
			}
		}
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

var fuzzServer = sync.OnceValues(func() (*server.MCPServer, *checkingTransport) {
	tr := &checkingTransport{}
	c, err := influx.New(influx.Options{
		Host: "http://influx.fuzz:8086", Token: fuzzConfiguredToken,
		Retry:      influx.RetryPolicy{MaxAttempts: 1},
		HTTPClient: &http.Client{Transport: tr, Timeout: 5 * time.Second},
	})
	if err != nil {
		panic(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewServer(c, Settings{Host: "http://influx.fuzz:8086", Timeout: 5 * time.Second, DefaultOrg: "acme"}, "fuzz", logger), tr
})

// FuzzToolArguments calls a tool with arbitrary arguments. The answer must be
// a JSON-RPC answer to the same id (a tool result or a protocol error), come
// in time, hold no token, and no request may reach InfluxDB unless its path
// and parameters are the ones the client makes with validated IDs.
func FuzzToolArguments(f *testing.F) {
	for _, s := range []struct {
		tool uint8
		args string
	}{
		{0, `{}`},
		{0, `{"user":"alice","org":"acme","status":"active","description":"CI","risk":"instance-wide","createdAfter":"2025-01-01T00:00:00Z","limit":10,"offset":1}`},
		{0, `{"action":"write","resourceType":"buckets","resourceName":"telegraf"}`},
		{0, `{"resourceType":"orgs","resourceID":"2ee51bdadf9c0ae1"}`},
		{0, `{"userID":"../../x","orgID":"2ee51bdadf9c0ae1"}`},
		{0, `{"limit":-1,"offset":1e400}`},
		{0, `{"user":"a\u0000b/../c?d=e&f#g","org":"%2F%2e%2e"}`},
		{1, `{"authID":"0a1b2c3d4e5f6a7b"}`},
		{1, `{"authID":"0a1b2c3d/../../a"}`},
		{1, `{"authID":"0A1B2C3D4E5F6A7B","extra":1}`},
		{1, `{"authID":null}`},
		{1, `[1,2,3]`},
		{1, `"just a string"`},
		{2, `{}`},
	} {
		f.Add(s.tool, []byte(s.args))
	}
	f.Fuzz(func(t *testing.T, tool uint8, args []byte) {
		srv, tr := fuzzServer()
		tr.take()
		name := []string{"list_tokens", "get_token", "no_such_tool"}[int(tool)%3]
		raw := json.RawMessage(args)
		if !json.Valid(args) {
			raw, _ = json.Marshal(string(args))
		}
		msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 4242, "method": "tools/call",
			"params": map[string]any{"name": name, "arguments": raw}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp := srv.HandleMessage(ctx, msg)
		if ctx.Err() != nil {
			t.Fatal("the call did not end in time")
		}
		out, err := json.Marshal(resp)
		if err != nil {
			t.Fatalf("answer does not marshal: %v", err)
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result *struct {
				IsError bool              `json:"isError"`
				Content []json.RawMessage `json:"content"`
			} `json:"result"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal(out, &m); err != nil || string(m.ID) != "4242" || (m.Result == nil) == (m.Error == nil) {
			t.Fatalf("not an answer to the call: %.500s", out)
		}
		if m.Result != nil && len(m.Result.Content) == 0 {
			t.Errorf("empty tool result: %.500s", out)
		}
		for _, secret := range []string{fuzzConfiguredToken, fuzzReturnedToken} {
			if bytes.Contains(out, []byte(secret)) {
				t.Errorf("the answer holds %s", secret)
			}
		}
		for _, p := range tr.take() {
			t.Error(p)
		}
	})
}

// FuzzServeInput feeds Serve arbitrary stdin. It must return soon after the
// input ends, which it does only if every request it read was answered (it
// waits for them), and write nothing but JSON-RPC messages.
func FuzzServeInput(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"f","version":"1"}}}` + "\n" +
			`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}` + "\n" +
			`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_token","arguments":{"authID":"0a00000000000001"}}}` + "\n",
		`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"list_tokens","arguments":{}}}` + "\n" +
			`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}}`,
		`{"jsonrpc":"2.0","id":1.0,"method":"ping"}` + "\n" + `{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n",
		`{"jsonrpc":"2.0","id":{"x":[1]},"method":"tools/call","params":{"name":"x"}}` + "\n",
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","result":null,"params":{"name":"get_token","arguments":{"authID":"0a00000000000001"}}}`,
		`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_tokens","arguments":{"description":"` + strings.Repeat("x", 600) + `"}}}` + "\n",
		"[1,2]\n\n\r\nnull\n{}\n{\"id\":1}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		srv := NewServer(&stdioStub{}, Settings{Host: "http://stub:8086", Timeout: time.Second}, "fuzz", logger)
		// It reports what is not JSON-RPC, or unterminated, when the test ends.
		out := mcpstdio.New(t, io.Discard)
		out.AllowDuplicateIDs = true // the input may repeat ids
		cfg := stdioLimits{workers: 2, unanswered: 4, drainTimeout: 10 * time.Second, shutdownTimeout: time.Second}
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- cfg.serve(context.Background(), srv, bytes.NewReader(data), out, logger) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Serve did not return")
		}
		if took := time.Since(start); took > 8*time.Second { // well under the 10 s drain
			t.Errorf("Serve took %s after EOF: a request read was never answered", took)
		}
		out.Close()
	})
}
