package influx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

// listServer is the fake InfluxDB, accepting any token, that answers every
// token list with two tokens (described by the user filter, so that tests
// see which query an answer was for) and counts the requests per configured
// token. hold, when not nil, is waited on before answering.
type listServer struct {
	srv      *fakeinflux.Server
	requests sync.Map // token → *atomic.Int64
	hold     chan struct{}
	reached  chan struct{}
	aborted  chan struct{}
}

func newListServer(t *testing.T) *listServer {
	ls := &listServer{reached: make(chan struct{}, 100), aborted: make(chan struct{}, 100)}
	ls.srv = fakeinflux.Start(t, fakeinflux.World{})
	ls.srv.Token = "" // the tests tell clients apart by their tokens
	ls.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		n, _ := ls.requests.LoadOrStore(r.Header.Get("Authorization"), &atomic.Int64{})
		n.(*atomic.Int64).Add(1)
		ls.reached <- struct{}{}
		if ls.hold != nil {
			select {
			case <-ls.hold:
			case <-r.Context().Done():
				ls.aborted <- struct{}{}
				return true
			}
		}
		fmt.Fprintf(w, `{"authorizations":[
			{"id":"0a00000000000001","token":"secret-1","status":"active","orgID":"0b00000000000001","org":"acme","userID":"0c00000000000001","user":"alice","description":"%s","createdAt":"2025-01-01T00:00:00Z","permissions":[{"action":"read","resource":{"type":"buckets","orgID":"0b00000000000001","org":"acme"}}]},
			{"id":"0a00000000000002","token":"secret-2","status":"inactive","orgID":"0b00000000000001","org":"acme","userID":"0c00000000000001","user":"alice","createdAt":"2025-01-02T00:00:00+02:00","permissions":[{"action":"read","resource":{"type":"buckets","orgID":"0b00000000000001","org":"acme"}}]}]}`,
			r.URL.Query().Get("user"))
		return true
	})
	return ls
}

func (ls *listServer) count(token string) int64 {
	n, ok := ls.requests.Load("Token " + token)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func (ls *listServer) client(t *testing.T, lc *ListCache, token string) *CachedClient {
	c, err := New(Options{Host: ls.srv.URL, Token: token, Retry: RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return lc.Client(c)
}

func listIDs(t *testing.T, ctx context.Context, c *CachedClient, f ListFilter) ([]string, error) {
	var ids []string
	err := c.ListAuthorizations(ctx, f, func(a *Authorization) error {
		ids = append(ids, a.ID+"/"+a.Description+"/"+a.CreatedAt.Format(time.RFC3339))
		return nil
	})
	return ids, err
}

func TestListCacheKeysByTokenAndQuery(t *testing.T) {
	ls := newListServer(t)
	lc := NewListCache(time.Hour, 0)
	alice1, alice2 := ls.client(t, lc, "token-alice"), ls.client(t, lc, "token-alice")
	bob := ls.client(t, lc, "token-bob")

	first, err := listIDs(t, t.Context(), alice1, ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*CachedClient{alice1, alice2} {
		got, err := listIDs(t, t.Context(), c, ListFilter{})
		if err != nil || strings.Join(got, ",") != strings.Join(first, ",") {
			t.Errorf("reused list %v, %v; want %v", got, err, first)
		}
	}
	if n := ls.count("token-alice"); n != 1 {
		t.Errorf("the same token and query made %d requests, want 1", n)
	}
	if _, err := listIDs(t, t.Context(), bob, ListFilter{}); err != nil {
		t.Fatal(err)
	}
	if n := ls.count("token-bob"); n != 1 {
		t.Errorf("another token made %d requests, want 1 of its own", n)
	}
	// Each filter is its own InfluxDB query.
	for _, f := range []ListFilter{{User: "carol"}, {UserID: "0c00000000000001"}, {Org: "acme"}, {OrgID: "0b00000000000001"}} {
		got, _ := listIDs(t, t.Context(), alice1, f)
		if f.User != "" && !strings.Contains(got[0], "/carol/") {
			t.Errorf("filter %+v answered %v, the list of another query", f, got)
		}
	}
	if n := ls.count("token-alice"); n != 5 {
		t.Errorf("%d requests for 5 queries, want 5", n)
	}
	// The cache holds a hash of the token, never the token.
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if s := fmt.Sprintf("%+v %+v", lc.kept, alice1.account); strings.Contains(s, "token-alice") || strings.Contains(s, "token-bob") {
		t.Errorf("the cache holds a token: %s", s)
	}
}

func TestListCacheExpires(t *testing.T) {
	ls := newListServer(t)
	lc := NewListCache(30*time.Second, 0)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lc.now = func() time.Time { return now }
	c := ls.client(t, lc, "tok")
	for _, step := range []struct {
		advance time.Duration
		want    int64
	}{{0, 1}, {29 * time.Second, 1}, {time.Second, 2}, {10 * time.Second, 2}} {
		now = now.Add(step.advance)
		before := ls.count("tok")
		var src ListSource
		if _, err := listIDs(t, WithListSource(t.Context(), &src), c, ListFilter{}); err != nil {
			t.Fatal(err)
		}
		if n := ls.count("tok"); n != step.want {
			t.Errorf("at %s: %d requests, want %d", now.Format(time.TimeOnly), n, step.want)
		}
		// The call that made the request streamed it; the others used the snapshot.
		reused := ls.count("tok") == before
		if src.Snapshot != reused || reused && (src.TTL != 30*time.Second || now.Sub(src.ListedAt) >= 30*time.Second) {
			t.Errorf("at %s: source %+v", now.Format(time.TimeOnly), src)
		}
	}
}

// One cancelled call does not fail the others waiting for the same list;
// when every one has gone, the request is aborted.
func TestListCacheSharedFetchCancellation(t *testing.T) {
	ls := newListServer(t)
	ls.hold = make(chan struct{})
	lc := NewListCache(time.Hour, 0)
	c := ls.client(t, lc, "tok")

	quitter, quit := context.WithCancel(t.Context())
	errs := make(chan error, 2)
	go func() { _, err := listIDs(t, quitter, c, ListFilter{}); errs <- err }()
	<-ls.reached
	stayed := make(chan []string)
	go func() { ids, _ := listIDs(t, t.Context(), c, ListFilter{}); stayed <- ids }()
	for { // wait until the second call waits for the same fetch
		lc.mu.Lock()
		waiters := lc.inflight[listKey{c.account, ListFilter{}}].waiters
		lc.mu.Unlock()
		if waiters == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	quit()
	var te *TransportError
	if err := <-errs; !errors.As(err, &te) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want a TransportError for the cancellation", err)
	}
	close(ls.hold)
	if ids := <-stayed; len(ids) != 2 {
		t.Errorf("the call that stayed got %v", ids)
	}
	if n := ls.count("tok"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// Alone, a cancelled call aborts the request.
	ls.hold = make(chan struct{})
	defer close(ls.hold)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { _, err := listIDs(t, ctx, c, ListFilter{User: "x"}); errs <- err }()
	<-ls.reached
	cancel()
	select {
	case <-ls.aborted:
	case <-time.After(5 * time.Second):
		t.Fatal("the request was not aborted")
	}
	<-errs
}

// The snapshot is compact: tokens that repeat names and permissions share
// them, and each call gets tokens of its own.
func TestListCacheSnapshotIsCompact(t *testing.T) {
	ls := newListServer(t)
	lc := NewListCache(time.Hour, 0)
	c := ls.client(t, lc, "tok")
	var got []*Authorization
	for range 3 { // the first call streams the list, the others read the snapshot
		if err := c.ListAuthorizations(t.Context(), ListFilter{}, func(a *Authorization) error {
			got = append(got, a)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 6 || ls.count("tok") != 1 {
		t.Fatalf("%d tokens from %d requests", len(got), ls.count("tok"))
	}
	if unsafe.StringData(got[2].Org) != unsafe.StringData(got[3].Org) ||
		unsafe.StringData(got[2].Permissions[0].Resource.Org) != unsafe.StringData(got[3].Permissions[0].Resource.Org) {
		t.Error("equal names are not shared")
	}
	if got[2] == got[4] || &got[2].Permissions[0] == &got[4].Permissions[0] {
		t.Error("two calls got the same token object")
	}
	got[2].Permissions[0].Action = "write" // a caller's change stays its own
	if got[4].Permissions[0].Action != "read" {
		t.Error("a change to one call's token shows in another's")
	}
	if want := time.Date(2025, 1, 1, 22, 0, 0, 0, time.UTC); !got[3].CreatedAt.Equal(want) {
		t.Errorf("createdAt %s, want %s", got[3].CreatedAt, want)
	}
}

// A compact list of 10,000 benchmark tokens holds far less than the decoded
// tokens, and its size estimate, which the budget counts, is close to what
// it holds.
func TestCompactListSize(t *testing.T) {
	var decoded []*Authorization
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	h0 := heap()
	if err := decodeList(bytes.NewReader(fixture.List(10000)), "authorizations", func(a *Authorization) error {
		decoded = append(decoded, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h1 := heap()
	l := newCompactList()
	for _, a := range decoded {
		l.add(a)
	}
	l.done()
	h2 := heap()
	runtime.KeepAlive(decoded)
	asDecoded, compact := int64(h1-h0), int64(h2-h1)
	t.Logf("10,000 tokens: decoded %d bytes, compact %d, estimated %d", asDecoded, compact, l.size)
	if compact*2 > asDecoded {
		t.Errorf("the compact list holds %d bytes, the decoded tokens %d: want at most half", compact, asDecoded)
	}
	if l.size < compact*3/4 || l.size > compact*2 {
		t.Errorf("estimated %d bytes, holds %d", l.size, compact)
	}
	runtime.KeepAlive(l)
}

// A list past the budget is streamed to every call, the one that tried to
// keep it included, and tried again only after ten TTLs.
func TestListCachePastTheBudget(t *testing.T) {
	ls := newListServer(t)
	lc := NewListCache(30*time.Second, 500)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lc.now = func() time.Time { return now }
	c := ls.client(t, lc, "tok")
	for _, step := range []struct {
		advance time.Duration
		want    int64
	}{{0, 1}, {time.Minute, 2}, {3*time.Minute + 59*time.Second, 3}, {time.Second, 4}} {
		now = now.Add(step.advance)
		var src ListSource
		ids, err := listIDs(t, WithListSource(t.Context(), &src), c, ListFilter{})
		if err != nil || len(ids) != 2 || src.Snapshot {
			t.Errorf("got %v, %v, source %+v; want both tokens, streamed", ids, err, src)
		}
		if n := ls.count("tok"); n != step.want {
			t.Errorf("after %s: %d requests, want %d", step.advance, n, step.want)
		}
	}
}

// The whole bucket, org and user lists, and whether an id exists, are
// reused for the TTL like token lists; lookups of one name, and every
// lookup with TTL 0, ask InfluxDB.
func TestListCacheKeepsDirectoryAnswers(t *testing.T) {
	f := fakeinflux.Start(t, fakeinflux.World{
		Orgs:    []fakeinflux.Org{{ID: "0b00000000000001", Name: "acme"}},
		Users:   []fakeinflux.User{{ID: "0c00000000000001", Name: "alice"}},
		Buckets: []fakeinflux.Bucket{{ID: "0d00000000000001", Name: "telegraf", OrgID: "0b00000000000001"}},
	})
	lc := NewListCache(30*time.Second, 0)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lc.now = func() time.Time { return now }
	c, err := New(Options{Host: f.URL, Token: fakeinflux.Token})
	if err != nil {
		t.Fatal(err)
	}
	cached := lc.Client(c)
	uncached := NewListCache(0, 0).Client(c)
	lookups := func(c *CachedClient) {
		t.Helper()
		bs, err1 := c.FindBuckets(t.Context(), "", "")
		os, err2 := c.FindOrgs(t.Context(), "")
		us, err3 := c.FindUsers(t.Context(), "")
		gone, err4 := c.Exists(t.Context(), "buckets", "0d00000000000009")
		if err := errors.Join(err1, err2, err3, err4); err != nil || len(bs) != 1 || len(os) != 1 || len(us) != 1 || gone {
			t.Fatalf("lists: %v %v %v, deleted bucket exists: %v, %v", bs, os, us, gone, err)
		}
		if _, err := c.FindBuckets(t.Context(), "telegraf", ""); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (whole, byID, named int) {
		for _, r := range f.Logged() {
			switch {
			case r.URL.Query().Get("name") != "":
				named++
			case strings.Count(r.URL.Path, "/") == 4: // /api/v2/buckets/{id}
				byID++
			default:
				whole++
			}
		}
		return whole, byID, named
	}
	for i, step := range []struct {
		c                  *CachedClient
		advance            time.Duration
		whole, byID, named int
	}{
		{cached, 0, 3, 1, 1},
		{cached, 29 * time.Second, 3, 1, 2}, // reused; the named lookup asks
		{cached, time.Second, 6, 2, 3},      // expired
		{uncached, 0, 9, 3, 4},              // TTL 0 asks every time
	} {
		now = now.Add(step.advance)
		lookups(step.c)
		if whole, byID, named := count(); whole != step.whole || byID != step.byID || named != step.named {
			t.Errorf("step %d: %d whole-list, %d by-ID and %d by-name requests, want %d, %d and %d", i, whole, byID, named, step.whole, step.byID, step.named)
		}
	}
}
