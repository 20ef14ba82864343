package tools

import (
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

const listPath = "/api/v2/authorizations"

// auditSession are the questions of an audit, as the audit_tokens prompt
// asks them, over generatedWorld's users.
var auditSession = []map[string]any{
	{"limit": 0},
	{"risk": riskInstanceWide},
	{"risk": riskCanCreateTokens},
	{"risk": riskInactive},
	{"risk": riskNoDescription},
	{"status": "inactive"},
	{"action": "write", "resourceType": "buckets", "limit": 0},
	{"action": "write", "resourceType": "buckets", "resourceName": "telegraf-03"},
	{"createdBefore": "2024-06-01T00:00:00Z", "limit": 500},
	{"user": "user-03", "limit": 0},
	{"user": "user-03", "risk": riskInactive},
}

func TestAuditSessionFetchesTheListOnce(t *testing.T) {
	fake := generatedWorld(10000).start(t)
	h := newCachedHarness(t, fake, Settings{}, influx.NewListCache(time.Hour, 0))
	for _, args := range auditSession {
		if res := h.call(t, "list_tokens", args); res.IsError {
			t.Fatalf("%v: %s", args, text(t, res))
		}
	}
	// One list for all tokens, one for user-03's.
	if n := len(fake.RequestsTo(listPath)); n > 2 {
		t.Errorf("the audit session asked InfluxDB for the token list %d times, want at most 2", n)
	}
}

// The answers from a snapshot are the answers from InfluxDB's list, but for
// the note that says when InfluxDB listed it.
func TestSnapshotAnswersEqualStreamedAnswers(t *testing.T) {
	fake := generatedWorld(3000).start(t)
	cached := newCachedHarness(t, fake, Settings{}, influx.NewListCache(time.Hour, 0))
	streamed := newHarness(t, fake, Settings{})
	questions := append([]map[string]any{
		{"offset": 2900, "limit": 500},
		{"action": "read", "resourceType": "orgs", "resourceName": "org-02"},
		{"description": "TOKEN 12", "limit": 500},
	}, auditSession...)
	for i, args := range questions {
		for round := range 2 { // the first call may stream the list, the second reuses it
			want := structured[ListTokensResult](t, streamed.call(t, "list_tokens", args))
			got := structured[ListTokensResult](t, cached.call(t, "list_tokens", args))
			if n := len(got.Notes); n == len(want.Notes)+1 && strings.Contains(got.Notes[n-1], "token list as of") {
				got.Notes = got.Notes[:n-1]
			} else if round == 1 {
				t.Errorf("%v: notes %q, want %q and the snapshot's time", args, got.Notes, want.Notes)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("question %d %v: the snapshot's answer differs from InfluxDB's list", i, args)
			}
		}
	}
}

func TestParallelQuestionsShareOneRequest(t *testing.T) {
	fake := generatedWorld(2000).start(t)
	// Hold the first list request until a second one arrives, or a while
	// passes: without sharing, all six calls would be at InfluxDB by then.
	var once sync.Once
	arrived := make(chan struct{})
	fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != listPath {
			return false
		}
		first := false
		once.Do(func() { first = true })
		if first {
			select {
			case <-arrived:
			case <-time.After(2 * time.Second):
			}
		} else {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
		return false
	})
	h := newCachedHarness(t, fake, Settings{}, influx.NewListCache(time.Hour, 0))
	questions := auditSession[:6]
	results := make([]*mcp.CallToolResult, len(questions))
	var wg sync.WaitGroup
	for i, args := range questions {
		wg.Go(func() { results[i] = h.call(t, "list_tokens", args) })
	}
	wg.Wait()
	for i, res := range results {
		if res.IsError {
			t.Errorf("%v: %s", questions[i], text(t, res))
		}
	}
	if n := len(fake.RequestsTo(listPath)); n != 1 {
		t.Errorf("six parallel questions made %d list requests, want 1", n)
	}
}

func TestCacheTTLZeroAsksInfluxDBEveryTime(t *testing.T) {
	fake := generatedWorld(100).start(t)
	h := newCachedHarness(t, fake, Settings{}, influx.NewListCache(0, 0))
	for i, args := range auditSession[:4] {
		res := structured[ListTokensResult](t, h.call(t, "list_tokens", args))
		if n := len(fake.RequestsTo(listPath)); n != i+1 {
			t.Errorf("after %d calls, %d list requests", i+1, n)
		}
		for _, n := range res.Notes {
			if strings.Contains(n, "as of") {
				t.Errorf("note %q without a snapshot", n)
			}
		}
	}
}

func TestSnapshotNoteSaysWhenInfluxDBListed(t *testing.T) {
	fake := baseWorld().start(t)
	h := newCachedHarness(t, fake, Settings{}, influx.NewListCache(45*time.Second, 0))
	before := time.Now().UTC().Truncate(time.Second)
	first := structured[ListTokensResult](t, h.call(t, "list_tokens", map[string]any{"limit": 0}))
	if strings.Contains(strings.Join(first.Notes, " "), "as of") {
		t.Errorf("the call that asked InfluxDB notes a snapshot: %q", first.Notes)
	}
	for range 2 {
		res := structured[ListTokensResult](t, h.call(t, "list_tokens", map[string]any{"limit": 0}))
		note := res.Notes[len(res.Notes)-1]
		at, _, ok := strings.Cut(strings.TrimPrefix(note, "This answer shows InfluxDB's token list as of "), ";")
		listed, err := time.Parse(time.RFC3339, at)
		if !ok || err != nil || listed.Before(before) || listed.After(time.Now()) || !strings.Contains(note, "45s") {
			t.Errorf("note %q: want the time of the list (after %s) and the TTL", note, before)
		}
	}
	if n := len(fake.RequestsTo(listPath)); n != 1 {
		t.Errorf("%d list requests, want 1", n)
	}
}

func TestGetTokenAlwaysAsksInfluxDB(t *testing.T) {
	fake := baseWorld().start(t)
	h := newCachedHarness(t, fake, Settings{}, influx.NewListCache(time.Hour, 0))
	h.call(t, "list_tokens", map[string]any{})
	for i := range 3 {
		if res := h.call(t, "get_token", map[string]any{"authID": tokMinter}); res.IsError {
			t.Fatal(text(t, res))
		}
		if n := len(fake.RequestsTo(listPath + "/" + tokMinter)); n != i+1 {
			t.Errorf("after %d get_token calls, %d requests for the token", i+1, n)
		}
	}
}

// A list past the budget is streamed, with the same answer, and is not
// tried again while the TTL runs.
func TestListPastTheBudgetStreams(t *testing.T) {
	fake := generatedWorld(3000).start(t)
	cached := newCachedHarness(t, fake, Settings{}, influx.NewListCache(time.Hour, 64<<10))
	streamed := newHarness(t, newFakeLike(fake).start(t), Settings{})
	args := map[string]any{"risk": riskNoDescription, "offset": 100}
	for range 3 {
		got := structured[ListTokensResult](t, cached.call(t, "list_tokens", args))
		want := structured[ListTokensResult](t, streamed.call(t, "list_tokens", args))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("streamed past the budget: %v, want %v", ids(got), ids(want))
		}
	}
	// One stream per call; the first also tried to keep the list.
	if n := len(fake.RequestsTo(listPath)); n != 3 {
		t.Errorf("%d list requests for 3 calls, want 3", n)
	}
}

// newFakeLike serves the same data as f from a server of its own.
func newFakeLike(f *fakeinflux.Server) world { return world{f.World} }

// Only a few list_tokens calls run at once, whatever the client sends: each
// reads the whole list and may hold part of it.
func TestListCallsAtOnceAreBounded(t *testing.T) {
	fake := generatedWorld(200).start(t)
	var mu sync.Mutex
	inflight, most := 0, 0
	all := make(chan struct{})
	fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != listPath {
			return false
		}
		mu.Lock()
		inflight++
		most = max(most, inflight)
		if inflight == 6 {
			close(all)
		}
		mu.Unlock()
		// Hold the request until every call is at InfluxDB, or a while
		// has passed: without a bound, all six would be.
		select {
		case <-all:
		case <-time.After(300 * time.Millisecond):
		}
		mu.Lock()
		inflight--
		mu.Unlock()
		return false
	})
	h := newHarness(t, fake, Settings{})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if res := h.call(t, "list_tokens", map[string]any{"offset": i}); res.IsError {
				t.Errorf("call %d: %s", i, text(t, res))
			}
		})
	}
	wg.Wait()
	if bound := min(max(runtime.GOMAXPROCS(0), 2), 4); most > bound || len(fake.RequestsTo(listPath)) != 6 {
		t.Errorf("%d list requests at once (of %d), want at most %d", most, len(fake.RequestsTo(listPath)), bound)
	}
}
