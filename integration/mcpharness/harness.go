// Package mcpharness drives the built influx-token-mcp binary the way an MCP
// client does: it builds the root module's binary once, starts it with a
// given environment, connects the official MCP Go SDK client over the
// process's stdin and stdout, and checks every answer on the way:
//
//   - every tool result that is not an error carries structuredContent that
//     validates against the outputSchema the tool announced in tools/list
//     (the SDK client does not check this itself);
//   - stdout holds JSON-RPC messages only, one a line;
//   - no secret (token value) appears in any message, on stdout or on stderr;
//   - the process exits with status 0 when its stdin is closed.
//
// The SDK speaks the stateless 2026-07-28 protocol (server/discover) by
// default; Options.ProtocolVersion pins an older one, negotiated through
// initialize.
//
// The root module's tests drive the binary with internal/mcpstdio instead.
// This module cannot import it: requiring the root module here would raise
// BurntSushi/toml and spf13/cast in InfluxDB's own build (both go.mod and
// go.v2.10.mod), and an independent client on the official SDK is worth
// having anyway.
package mcpharness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BinaryEnv names an environment variable that, when set, is the path of an
// already built influx-token-mcp binary to test instead of building one.
const BinaryEnv = "INFLUX_TOKEN_MCP_BINARY"

// Protocol versions the tests pin.
const (
	Protocol20260728 = "2026-07-28" // the SDK's default: stateless server/discover
	Protocol20251125 = "2025-11-25"
	Protocol20250618 = "2025-06-18"
)

// RepoRoot is the root module's directory (the parent of integration/).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("mcpharness: cannot locate source file")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("mcpharness: no go.mod in %s: %w", root, err)
	}
	return root, nil
}

// Build compiles the root module's server into dir and returns the binary's
// path, or returns $INFLUX_TOKEN_MCP_BINARY when that is set.
func Build(ctx context.Context, dir string) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("mcpharness: %s: %w", BinaryEnv, err)
		}
		return abs, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "influx-token-mcp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	// The integration module's go test flags (-race, -cover) must not leak
	// into this build; GOWORK could pull integration/ in.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mcpharness: go build in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

// Options configure one server process and its client session.
type Options struct {
	Binary string
	// Env is the server's whole environment besides HOME, which points at
	// an empty directory so that no influx CLI profile is read.
	Env map[string]string
	// ProtocolVersion is passed to the SDK client; "" is its default,
	// 2026-07-28 over server/discover.
	ProtocolVersion string
	// Secrets must appear nowhere: not in any message, stdout or stderr.
	Secrets []string
}

// Session is a running server with a connected client.
type Session struct {
	t       testing.TB
	opts    Options
	cmd     *exec.Cmd
	cs      *mcp.ClientSession
	waitErr chan error

	fromServer *syncBuffer // raw stdout
	toServer   *syncBuffer // raw stdin
	stderr     *syncBuffer

	// Tools as listed by tools/list, by name.
	Tools   map[string]*mcp.Tool
	schemas map[string]*jsonschema.Resolved

	closeOnce sync.Once
}

// Start runs the binary and connects a client. The session is closed, and
// checked, when the test ends.
func Start(t testing.TB, opts Options) *Session {
	t.Helper()
	s, err := start(t, opts)
	if err != nil {
		t.Fatalf("mcpharness: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func start(t testing.TB, opts Options) (*Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	cmd := exec.Command(opts.Binary)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	for k, v := range opts.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &Session{
		t: t, opts: opts, cmd: cmd,
		fromServer: &syncBuffer{}, toServer: &syncBuffer{}, stderr: &syncBuffer{},
		waitErr: make(chan error, 1),
	}
	cmd.Stderr = s.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.waitErr <- cmd.Wait() }()

	transport := &mcp.IOTransport{
		// The reader's Close is left to the process: once stdin is closed
		// the server exits and its stdout ends.
		Reader: io.NopCloser(io.TeeReader(stdout, s.fromServer)),
		Writer: teeWriteCloser{w: stdin, copy: s.toServer},
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "influx-token-mcp-e2e", Version: "1.0.0"}, nil)
	var sessOpts *mcp.ClientSessionOptions
	if opts.ProtocolVersion != "" {
		sessOpts = &mcp.ClientSessionOptions{ProtocolVersion: opts.ProtocolVersion}
	}
	cs, err := client.Connect(ctx, transport, sessOpts)
	if err != nil {
		_ = stdin.Close()
		s.kill()
		return nil, fmt.Errorf("connect: %v; stderr:\n%s", err, s.stderr.String())
	}
	s.cs = cs

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("tools/list: %v", err)
	}
	s.Tools = map[string]*mcp.Tool{}
	s.schemas = map[string]*jsonschema.Resolved{}
	for _, tool := range tools.Tools {
		s.Tools[tool.Name] = tool
		if tool.OutputSchema == nil {
			continue
		}
		raw, err := json.Marshal(tool.OutputSchema)
		if err != nil {
			return nil, err
		}
		var schema jsonschema.Schema
		if err := json.Unmarshal(raw, &schema); err != nil {
			return nil, fmt.Errorf("tool %s: outputSchema: %v", tool.Name, err)
		}
		resolved, err := schema.Resolve(nil)
		if err != nil {
			return nil, fmt.Errorf("tool %s: outputSchema does not resolve: %v", tool.Name, err)
		}
		s.schemas[tool.Name] = resolved
	}
	return s, nil
}

// Client is the SDK session, for calls the helpers below do not cover.
func (s *Session) Client() *mcp.ClientSession { return s.cs }

// ProtocolVersion is the version the session negotiated.
func (s *Session) ProtocolVersion() string {
	return s.cs.InitializeResult().ProtocolVersion
}

// Sent returns the raw bytes the client wrote to the server's stdin.
func (s *Session) Sent() string { return s.toServer.String() }

// Received returns the raw bytes the server wrote to stdout.
func (s *Session) Received() string { return s.fromServer.String() }

// Stderr returns what the server wrote to stderr so far.
func (s *Session) Stderr() string { return s.stderr.String() }

// Result is one tools/call answer.
type Result struct {
	IsError bool
	Text    string          // the text content blocks, joined by newlines
	Raw     json.RawMessage // structuredContent as received, nil if none
	Res     *mcp.CallToolResult
}

// Decode decodes structuredContent into v.
func (r *Result) Decode(t testing.TB, v any) {
	t.Helper()
	if r.Raw == nil {
		t.Fatalf("result has no structuredContent; text: %s", r.Text)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding structuredContent: %v\n%s", err, r.Raw)
	}
}

// Call calls a tool, fails the test on a protocol error, and checks the
// result: structuredContent valid against the tool's outputSchema when the
// result is not an error, at least one text block, and no secret anywhere.
func (s *Session) Call(ctx context.Context, t testing.TB, tool string, args any) *Result {
	t.Helper()
	res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s %s: %v\nstderr:\n%s", tool, mustJSON(args), err, s.stderr.String())
	}
	r := &Result{IsError: res.IsError, Res: res}
	var texts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			texts = append(texts, tc.Text)
		} else {
			t.Errorf("tools/call %s: unexpected content block %T", tool, c)
		}
	}
	r.Text = strings.Join(texts, "\n")
	if len(texts) == 0 {
		t.Errorf("tools/call %s %s: no text content", tool, mustJSON(args))
	}
	if res.StructuredContent != nil {
		raw, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatalf("re-encoding structuredContent: %v", err)
		}
		r.Raw = raw
	}
	if !res.IsError {
		s.checkOutput(t, tool, args, r.Raw)
	}
	whole, _ := json.Marshal(res)
	CheckNoSecrets(t, fmt.Sprintf("tools/call %s %s result", tool, mustJSON(args)), string(whole), s.opts.Secrets)
	return r
}

// checkOutput validates structuredContent against the tool's outputSchema.
func (s *Session) checkOutput(t testing.TB, tool string, args any, raw json.RawMessage) {
	t.Helper()
	schema, ok := s.schemas[tool]
	if !ok {
		return // a tool without outputSchema may answer in text only
	}
	if raw == nil {
		t.Errorf("tools/call %s %s: the tool has an outputSchema but the result has no structuredContent", tool, mustJSON(args))
		return
	}
	var instance any
	if err := json.Unmarshal(raw, &instance); err != nil {
		t.Errorf("tools/call %s: structuredContent: %v", tool, err)
		return
	}
	if err := schema.Validate(instance); err != nil {
		t.Errorf("tools/call %s %s: structuredContent does not match the outputSchema: %v\n%s", tool, mustJSON(args), err, raw)
	}
}

// Prompt gets a prompt.
func (s *Session) Prompt(ctx context.Context, t testing.TB, name string, args map[string]string) *mcp.GetPromptResult {
	t.Helper()
	res, err := s.cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("prompts/get %s: %v", name, err)
	}
	return res
}

// Close closes stdin, waits for the server to exit, and checks the exit
// status, stdout's framing and that no secret was written anywhere.
func (s *Session) Close() {
	s.closeOnce.Do(func() {
		t := s.t
		t.Helper()
		_ = s.cs.Close()
		select {
		case err := <-s.waitErr:
			if err != nil {
				t.Errorf("server exited with %v after stdin was closed; stderr:\n%s", err, s.stderr.String())
			}
		case <-time.After(10 * time.Second):
			s.kill()
			t.Errorf("server did not exit within 10s of stdin closing")
		}
		CheckJSONRPCLines(t, s.fromServer.String())
		CheckNoSecrets(t, "stdout", s.fromServer.String(), s.opts.Secrets)
		CheckNoSecrets(t, "stderr", s.stderr.String(), s.opts.Secrets)
		CheckNoSecrets(t, "stdin", s.toServer.String(), s.opts.Secrets)
	})
}

func (s *Session) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		select {
		case <-s.waitErr:
		case <-time.After(5 * time.Second):
		}
	}
}

// CheckNoSecrets fails the test if any secret occurs in text. It never
// prints a secret: only its position in the list and the context around
// the match with the secret blanked out.
func CheckNoSecrets(t testing.TB, where, text string, secrets []string) {
	t.Helper()
	for i, secret := range secrets {
		if secret == "" {
			continue
		}
		if at := strings.Index(text, secret); at >= 0 {
			from, to := max(0, at-80), min(len(text), at+len(secret)+80)
			excerpt := strings.ReplaceAll(text[from:to], secret, "<SECRET>")
			t.Errorf("%s contains secret #%d at byte %d: …%s…", where, i, at, excerpt)
		}
	}
}

// CheckJSONRPCLines fails the test unless every line of out is a JSON-RPC
// 2.0 message.
func CheckJSONRPCLines(t testing.TB, out string) {
	t.Helper()
	for n, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var msg struct {
			JSONRPC string `json:"jsonrpc"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.JSONRPC != "2.0" {
			t.Errorf("stdout line %d is not a JSON-RPC 2.0 message: %.200s", n+1, line)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type teeWriteCloser struct {
	w    io.WriteCloser
	copy io.Writer
}

func (t teeWriteCloser) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	_, _ = t.copy.Write(p[:n])
	return n, err
}

func (t teeWriteCloser) Close() error { return t.w.Close() }
