package binarytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// binDir holds the binaries built for the tests.
var binDir string

var (
	buildMu sync.Mutex
	built   = map[bool]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "influx-token-mcp-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds the server (once per flavour: with the race detector or
// without) and returns its path.
func binary(t *testing.T, race bool) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[race]; ok {
		return p
	}
	p, err := mcpstdio.Build(binDir, race)
	if err != nil {
		t.Fatal(err)
	}
	built[race] = p
	return p
}

// raceBinary is the binary built the way these tests are.
func raceBinary(t *testing.T) string { return binary(t, mcpstdio.RaceEnabled()) }

// The configured token and the token values the fake InfluxDB returns are
// canaries: none may appear in stdout, stderr or any result.
const canaryToken = fakeinflux.Token

// prefix mounts the fake InfluxDB below a path, as a reverse proxy does.
const prefix = "/influxdb"

const (
	orgAcme        = "2ee51bdadf9c0ae1"
	userAlice      = "11b2f4c47da08000"
	bucketTelegraf = "1b8b4c1613714666"
)

// auth is a token of alice's that writes bucket telegraf, described as
// "token <id>" so that an answer shows whose it is.
func auth(id string) fakeinflux.Auth {
	return fakeinflux.Auth{ID: id, Status: "active", Description: "token " + id, OrgID: orgAcme, UserID: userAlice,
		Perms:   []fakeinflux.Perm{{Action: "write", Type: "buckets", ID: bucketTelegraf, OrgID: orgAcme}},
		Created: time.Date(2025, 1, 15, 9, 30, 0, 0, time.UTC)}
}

// world is org acme, user alice, bucket telegraf and the three tokens
// 0a00000000000001 to …03, plus tokens with the ids extra.
func world(extra ...string) fakeinflux.World {
	w := fakeinflux.World{
		Orgs:    []fakeinflux.Org{{ID: orgAcme, Name: "acme"}},
		Users:   []fakeinflux.User{{ID: userAlice, Name: "alice"}},
		Buckets: []fakeinflux.Bucket{{ID: bucketTelegraf, Name: "telegraf", OrgID: orgAcme}},
	}
	for i := range 3 {
		w.Auths = append(w.Auths, auth(fmt.Sprintf("0a0000000000000%d", i+1)))
	}
	for _, id := range extra {
		w.Auths = append(w.Auths, auth(id))
	}
	return w
}

// newFake serves world(extra...) under prefix until the test ends.
func newFake(t *testing.T, extra ...string) *fakeinflux.Server {
	return fakeinflux.StartAt(t, world(extra...), prefix)
}

// faults answer like a broken or hostile InfluxDB; every one of them echoes
// the configured token somewhere.
var faults = map[string]func(w http.ResponseWriter, s *fakeinflux.Server){
	"unauthorized": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		fakeinflux.WriteError(w, 401, "unauthorized", "token "+canaryToken+" is not valid", false)
	},
	"forbidden": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		fakeinflux.WriteError(w, 403, "forbidden", "User is inactive; token "+canaryToken, false)
	},
	"notfound": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		fakeinflux.WriteError(w, 404, "not found", "authorization not found", true)
	},
	"invalid": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		fakeinflux.WriteError(w, 400, "invalid", "bad request for "+canaryToken, true)
	},
	"ratelimit": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		w.Header().Set("Retry-After", "3600")
		fakeinflux.WriteError(w, 429, "too many requests", "quota exceeded for "+canaryToken, false)
	},
	"html": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		fmt.Fprintf(w, "<html><body>Bad gateway for Token %s</body></html>", canaryToken)
	},
	"badjson": func(w http.ResponseWriter, _ *fakeinflux.Server) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"0a00000000000001","token":"%s",`, canaryToken)
	},
	"badtime": func(w http.ResponseWriter, s *fakeinflux.Server) {
		a := s.AuthJSON(s.Auths[0])
		a["createdAt"] = canaryToken
		fakeinflux.WriteJSON(w, a)
	},
	"badtime2": func(w http.ResponseWriter, s *fakeinflux.Server) { // a value the server cannot know to scrub
		a := s.AuthJSON(s.Auths[0])
		a["updatedAt"] = s.Auths[0].Token
		fakeinflux.WriteJSON(w, a)
	},
	"badshape": func(w http.ResponseWriter, _ *fakeinflux.Server) { fakeinflux.WriteJSON(w, []string{canaryToken}) },
}

// faultIDs are the get_token IDs that trigger each fault; list_tokens
// triggers it with the fault's name as the user.
var faultIDs = map[string]string{
	"unauthorized": "0f00000000000401", "forbidden": "0f00000000000403", "notfound": "0f00000000000404",
	"invalid": "0f00000000000400", "ratelimit": "0f00000000000429", "html": "0f00000000000502",
	"badjson": "0f0000000000bad0", "badtime": "0f0000000000bad1", "badshape": "0f0000000000bad2", "badtime2": "0f0000000000bad3",
}

// injectFaults makes f answer with the faults.
func injectFaults(f *fakeinflux.Server) {
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		path := f.APIPath(r)
		for name, id := range faultIDs {
			if path == "/api/v2/authorizations/"+id ||
				path == "/api/v2/authorizations" && r.URL.Query().Get("user") == name {
				faults[name](w, f)
				return true
			}
		}
		return false
	})
}

// delaying makes f answer get requests after delay(id).
func delaying(f *fakeinflux.Server, delay func(id string) time.Duration) {
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if id, ok := strings.CutPrefix(f.APIPath(r), "/api/v2/authorizations/"); ok {
			time.Sleep(delay(id))
		}
		return false
	})
}

func baseEnv(t *testing.T, host string) map[string]string {
	return map[string]string{
		"HOME":             t.TempDir(), // no influx CLI profile
		"INFLUX_HOST":      host,
		"INFLUX_TOKEN":     canaryToken,
		"INFLUX_LOG_LEVEL": "debug",
		"INFLUX_TIMEOUT":   "5s",
		"GORACE":           "atexit_sleep_ms=0", // a race binary sleeps 1 s at exit by default
	}
}

var (
	request  = mcpstdio.Request
	toolCall = mcpstdio.ToolCall
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
