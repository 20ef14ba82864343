package binarytest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// What a client and a user see of the server: its version, names and
// completions.

// --version names the version, commit and date a release build stamps, under
// the variable names .goreleaser.yaml sets.
func TestVersionOfAReleaseBuild(t *testing.T) {
	ldflags := "-X main.version=9.8.7 -X main.commit=0123456789abcdef0123456789abcdef01234567 -X main.date=2026-01-02T03:04:05Z"
	bin, err := mcpstdio.Build(t.TempDir(), false, "-ldflags", ldflags)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "influx-token-mcp 9.8.7 (commit 0123456789abcdef0123456789abcdef01234567, 2026-01-02T03:04:05Z, go"
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("--version = %q, want it to start with %q", out, want)
	}
}

// What a client shows: the server's title, description and website, each
// tool's title, and completions of the audit_tokens prompt's arguments from
// InfluxDB's names, or none when InfluxDB is unreachable.
func TestDiscoverableInClients(t *testing.T) {
	w := world()
	w.Users = append(w.Users,
		fakeinflux.User{ID: "11b2f4c47da08001", Name: "Albert"},
		fakeinflux.User{ID: "11b2f4c47da08002", Name: "bob"},
		fakeinflux.User{ID: "11b2f4c47da08003", Name: "al\x1b]0;pwned\x07"},
	)
	f := fakeinflux.StartAt(t, w, prefix)
	complete := func(p *mcpstdio.Process, id any, arg, typed string) []string {
		t.Helper()
		p.Send(t, request(id, "completion/complete", map[string]any{
			"ref":      map[string]any{"type": "ref/prompt", "name": "audit_tokens"},
			"argument": map[string]any{"name": arg, "value": typed},
		}))
		m := p.Await(t, id, 10*time.Second)
		var res struct{ Completion struct{ Values []string } }
		if m.Error != nil || json.Unmarshal(m.Result, &res) != nil || res.Completion.Values == nil {
			t.Fatalf("completion/complete %s %q: %s", arg, typed, m.Raw)
		}
		return res.Completion.Values
	}

	p := mcpstdio.Start(t, raceBinary(t), baseEnv(t, f.URL))
	p.Send(t, request("init", "initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"},
	}))
	var init struct {
		Capabilities map[string]json.RawMessage
		ServerInfo   struct{ Name, Title, Description, WebsiteURL string }
	}
	if m := p.Await(t, "init", 10*time.Second); m.Error != nil || json.Unmarshal(m.Result, &init) != nil {
		t.Fatalf("initialize: %s", m.Raw)
	}
	if s := init.ServerInfo; s.Name != "influx-token-mcp" || s.Title == "" || s.Description == "" || s.WebsiteURL != "https://github.com/tokenaudit/influx-token-mcp" {
		t.Errorf("serverInfo %+v: want a name, title, description and the website", s)
	}
	if _, ok := init.Capabilities["completions"]; !ok {
		t.Errorf("capabilities %v lack completions", init.Capabilities)
	}
	p.Send(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})

	p.Send(t, request("tools", "tools/list", nil))
	var list struct {
		Tools []struct{ Name, Title string }
	}
	if m := p.Await(t, "tools", 10*time.Second); json.Unmarshal(m.Result, &list) != nil || len(list.Tools) == 0 {
		t.Fatalf("tools/list: %s", m.Raw)
	}
	for _, tool := range list.Tools {
		if tool.Title == "" {
			t.Errorf("tool %s has no title", tool.Name)
		}
	}

	if got := complete(p, "c1", "org", "a"); strings.Join(got, ",") != "acme" {
		t.Errorf("org completions %q, want acme", got)
	}
	if got := complete(p, "c2", "user", "AL"); strings.Join(got, ",") != "Albert,alice" {
		t.Errorf("user completions %q, want Albert and alice (not the name with control characters)", got)
	}

	down := mcpstdio.Start(t, raceBinary(t), baseEnv(t, fakeinflux.ClosedPortURL(t)))
	down.Initialize(t)
	for i, arg := range []string{"org", "user"} {
		if got := complete(down, i, arg, ""); len(got) != 0 {
			t.Errorf("%s completions with InfluxDB unreachable: %q, want none", arg, got)
		}
	}
}
