// Package mcpstdio is the root module's tests' one way to speak MCP over
// stdio: a line-level JSON-RPC client that writes requests as they are given
// (malformed or huge ones included) and collects every answer by id, for the
// server in process (tools.Serve) and for the built binary (Start).
//
// It checks what a real client relies on: stdout carries JSON-RPC messages
// only, one a line, and no id is answered twice.
//
// The integration module has its own harness (integration/mcpharness) on
// the official MCP Go SDK client: it is a separate module that does not
// depend on this one, and a second, independent client is the point there.
package mcpstdio

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"
)

// MinWait is the least time Await allows: its bounds only catch a server
// that hangs, and a 2-core machine under a load of 30 can take seconds for
// what takes milliseconds when idle.
const MinWait = 30 * time.Second

// Message is one JSON-RPC message from the server.
type Message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	// Raw is the whole line.
	Raw []byte `json:"-"`
}

// Client writes requests to the server's stdin and is written the server's
// stdout (it is an io.Writer).
type Client struct {
	stdin io.Writer
	// Diagnostics, when set, adds to the message of a failed Await (the
	// server's log, say).
	Diagnostics func() string
	// AllowDuplicateIDs is for a test that reuses ids on purpose.
	AllowDuplicateIDs bool

	mu      sync.Mutex
	partial []byte
	all     bytes.Buffer
	answers map[string][]Message // by the id's JSON
	arrived chan struct{}        // closed and replaced on every answer
	bad     []string             // lines that are not JSON-RPC, and repeated answers
	ended   chan struct{}        // closed by Close
	endOnce sync.Once
}

// New is a client that writes to stdin; the test must feed the server's
// output to it (Write) and Close it when that output ends. It reports at
// the end of the test what the server wrote that no client could read.
func New(t testing.TB, stdin io.Writer) *Client {
	c := &Client{stdin: stdin, answers: map[string][]Message{}, arrived: make(chan struct{}), ended: make(chan struct{})}
	t.Cleanup(func() {
		for _, l := range c.Problems() {
			t.Errorf("the server's stdout: %.200q", l)
		}
	})
	return c
}

// Write takes the server's output, in pieces of any size.
func (c *Client) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all.Write(p)
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.record(bytes.Clone(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

// Close says the server's output has ended.
func (c *Client) Close() error {
	c.endOnce.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.partial) > 0 {
			c.bad = append(c.bad, "unterminated last line: "+string(c.partial))
		}
		close(c.ended)
	})
	return nil
}

func (c *Client) record(line []byte) {
	var m Message
	if json.Unmarshal(line, &m) != nil || m.JSONRPC != "2.0" || (m.Method == "" && m.Result == nil && m.Error == nil) {
		c.bad = append(c.bad, "not a JSON-RPC message: "+string(line))
		return
	}
	if m.Method != "" {
		return // a request or notification from the server
	}
	m.Raw = line
	key := string(m.ID)
	if len(c.answers[key]) > 0 && key != "null" && !c.AllowDuplicateIDs {
		c.bad = append(c.bad, "second answer to id "+key)
	}
	c.answers[key] = append(c.answers[key], m)
	close(c.arrived)
	c.arrived = make(chan struct{})
}

// Problems are the lines no client could take: not JSON-RPC, or a second
// answer to an id.
func (c *Client) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// Output is everything the server wrote.
func (c *Client) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all.String()
}

// Send writes v as one line.
func (c *Client) Send(t testing.TB, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c.SendRaw(t, b)
}

// SendRaw writes b and a newline, as it is.
func (c *Client) SendRaw(t testing.TB, b []byte) {
	t.Helper()
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("writing to the server: %v", err)
	}
}

// AnswersTo returns every answer so far to the id whose JSON is rawID.
func (c *Client) AnswersTo(rawID string) []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.answers[rawID]...)
}

// Await waits for the answer to id (any JSON value; nil for id null, whose
// answers are taken one at a time) for at least MinWait.
func (c *Client) Await(t testing.TB, id any, within time.Duration) Message {
	t.Helper()
	within = max(within, MinWait)
	raw, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	key := string(raw)
	deadline := time.After(within)
	for {
		c.mu.Lock()
		as := c.answers[key]
		if len(as) > 0 && key == "null" {
			c.answers[key] = as[1:]
		}
		arrived := c.arrived
		c.mu.Unlock()
		if len(as) > 0 {
			return as[0]
		}
		select {
		case <-arrived:
		case <-c.ended:
			t.Fatalf("the server's output ended without an answer to %s%s", key, c.diagnostics())
		case <-deadline:
			t.Fatalf("no answer to %s within %s%s", key, within, c.diagnostics())
		}
	}
}

func (c *Client) diagnostics() string {
	if c.Diagnostics == nil {
		return ""
	}
	return "\n" + c.Diagnostics()
}

// Initialize runs the MCP handshake.
func (c *Client) Initialize(t testing.TB) {
	t.Helper()
	c.Send(t, Request("init", "initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"},
	}))
	if m := c.Await(t, "init", 10*time.Second); m.Error != nil {
		t.Fatalf("initialize: %s", m.Raw)
	}
	c.Send(t, Notification("notifications/initialized", nil))
}

// Request is a JSON-RPC request; params may be nil.
func Request(id any, method string, params any) map[string]any {
	m := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	return m
}

// Notification is a JSON-RPC notification; params may be nil.
func Notification(method string, params any) map[string]any {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		m["params"] = params
	}
	return m
}

// ToolCall is a tools/call request; args may be any JSON value.
func ToolCall(id any, tool string, args any) map[string]any {
	return Request(id, "tools/call", map[string]any{"name": tool, "arguments": args})
}

// Cancel is the notifications/cancelled for the request id.
func Cancel(id any) map[string]any {
	return Notification("notifications/cancelled", map[string]any{"requestId": id})
}

// ToolResult is the tool result in an answer.
type ToolResult struct {
	IsError bool `json:"isError"`
	Content []struct {
		Text string `json:"text"`
	} `json:"content"`
	Structured json.RawMessage `json:"structuredContent"`
}

// Tool is m's tool result; a protocol error fails the test.
func (m Message) Tool(t testing.TB) ToolResult {
	t.Helper()
	if m.Error != nil {
		t.Fatalf("protocol error instead of a tool result: %s", m.Raw)
	}
	var r ToolResult
	if err := json.Unmarshal(m.Result, &r); err != nil || len(r.Content) == 0 {
		t.Fatalf("not a tool result: %s", m.Raw)
	}
	return r
}

// Text is the first text block.
func (r ToolResult) Text() string { return r.Content[0].Text }
