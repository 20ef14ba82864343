package influx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// DefaultCacheBudget bounds the memory all token-list snapshots together
// may hold. A list past it is not kept: calls over it stream from InfluxDB
// as they would without a cache. It is small enough that trying to keep a
// huge list and giving up costs little next to streaming it.
const DefaultCacheBudget = 16 << 20

// ListCache keeps recent token lists in memory, so that the many questions
// of one audit cost one request to InfluxDB, and bounds how many lists are
// decoded and filtered at once. It is safe for concurrent use; wrap each
// Client with Client.
type ListCache struct {
	ttl    time.Duration
	budget int64
	now    func() time.Time
	slots  chan struct{} // one per list being decoded or filtered

	mu       sync.Mutex
	kept     map[listKey]*snapshot
	inflight map[listKey]*listFetch
	used     int64 // bytes of the snapshots in kept
	fetches  int   // requests for token lists made by snapshots, for tests
}

// listKey is one InfluxDB list query as one identity sees it. account is a
// hash of the host and token, never the token itself.
type listKey struct {
	account string
	filter  ListFilter
}

// snapshot is one token list as InfluxDB returned it. A snapshot with
// tooBig set holds nothing: it marks a list past the budget until it
// expires, so that calls stream it without trying to keep it again.
type snapshot struct {
	listedAt time.Time
	chunks   [][]Authorization
	size     int64
	tooBig   bool
}

type listFetch struct {
	done    chan struct{}
	snap    *snapshot
	err     error
	waiters int // calls waiting for it, under ListCache.mu
	cancel  context.CancelFunc
}

// NewListCache returns a cache that reuses a list for ttl (0 turns reuse
// off: every call asks InfluxDB) within budget bytes (0 means
// DefaultCacheBudget).
func NewListCache(ttl time.Duration, budget int64) *ListCache {
	if budget <= 0 {
		budget = DefaultCacheBudget
	}
	// Decoding is CPU-bound and a list being filtered holds memory, so as
	// many run at once as there are cores, at least 2 and at most 4.
	slots := min(max(runtime.GOMAXPROCS(0), 2), 4)
	return &ListCache{
		ttl: ttl, budget: budget, now: time.Now,
		slots:    make(chan struct{}, slots),
		kept:     map[listKey]*snapshot{},
		inflight: map[listKey]*listFetch{},
	}
}

// TTL is how long a list is reused.
func (lc *ListCache) TTL() time.Duration { return lc.ttl }

// Fetches is how many token lists the cache has asked InfluxDB for.
func (lc *ListCache) Fetches() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.fetches
}

// Client returns c with ListAuthorizations answered from this cache. The
// other methods, get_token's included, always ask InfluxDB.
func (lc *ListCache) Client(c *Client) *CachedClient {
	h := sha256.Sum256([]byte(c.base.String() + "\x00" + c.token))
	return &CachedClient{Client: c, cache: lc, account: hex.EncodeToString(h[:])}
}

// CachedClient is a Client whose token lists come from a ListCache.
type CachedClient struct {
	*Client
	cache   *ListCache
	account string
}

// ListSource tells a caller where the list of a ListAuthorizations call
// came from; see WithListSource.
type ListSource struct {
	Snapshot bool      // from a snapshot shared between calls
	ListedAt time.Time // when InfluxDB was asked for that list
	TTL      time.Duration
}

type listSourceKey struct{}

// WithListSource returns a context in which CachedClient.ListAuthorizations
// fills in src.
func WithListSource(ctx context.Context, src *ListSource) context.Context {
	return context.WithValue(ctx, listSourceKey{}, src)
}

// ListAuthorizations hands fn every token of the list for f, from a
// snapshot at most TTL old when there is one and it fits the budget, else
// streamed from InfluxDB. Calls that ask for the same list at the same time
// share one request. fn must not modify the authorizations: they are shared.
func (c *CachedClient) ListAuthorizations(ctx context.Context, f ListFilter, fn func(*Authorization) error) error {
	if c.cache.ttl <= 0 {
		return c.stream(ctx, f, fn)
	}
	snap, err := c.cache.snapshot(ctx, c.base.Host, listKey{c.account, f}, func(ctx context.Context) (*snapshot, error) {
		return c.fetch(ctx, f)
	})
	if err != nil {
		return err
	}
	if snap.tooBig {
		return c.stream(ctx, f, fn)
	}
	if src, ok := ctx.Value(listSourceKey{}).(*ListSource); ok {
		*src = ListSource{Snapshot: true, ListedAt: snap.listedAt, TTL: c.cache.ttl}
	}
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.cache.release()
	for _, chunk := range snap.chunks {
		if err := ctx.Err(); err != nil {
			return &TransportError{Host: c.base.Host, Err: err}
		}
		for i := range chunk {
			if err := fn(&chunk[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// stream is the uncached list, within the bound on lists at once.
func (c *CachedClient) stream(ctx context.Context, f ListFilter, fn func(*Authorization) error) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.cache.release()
	return c.Client.ListAuthorizations(ctx, f, fn)
}

var errOverBudget = errors.New("token list larger than the cache budget")

// fetch asks InfluxDB for the list and keeps it compactly, or gives up once
// it passes the budget.
func (c *CachedClient) fetch(ctx context.Context, f ListFilter) (*snapshot, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.cache.release()
	snap := &snapshot{listedAt: c.cache.now()}
	in := newInterner()
	const chunkLen = 1024 // chunks, not one growing slice, so the list is never copied
	overBudget := false
	err := c.Client.ListAuthorizations(ctx, f, func(a *Authorization) error {
		if n := len(snap.chunks); n == 0 || len(snap.chunks[n-1]) == chunkLen {
			snap.chunks = append(snap.chunks, make([]Authorization, 0, chunkLen))
			snap.size += chunkLen * int64(unsafe.Sizeof(Authorization{}))
		}
		last := &snap.chunks[len(snap.chunks)-1]
		*last = append(*last, in.compact(a))
		snap.size += int64(len(a.ID) + len(a.Description))
		if snap.size+in.size > c.cache.budget {
			overBudget = true
			return errOverBudget
		}
		return nil
	})
	if overBudget {
		return &snapshot{listedAt: snap.listedAt, tooBig: true}, nil
	}
	if err != nil {
		return nil, err
	}
	snap.size += in.size
	return snap, nil
}

// snapshot returns the list for key: a kept one not older than the TTL,
// else the one a call in flight is fetching, else a new one from fetch.
// The fetch runs on its own and stops only when every call waiting for it
// has given up, so one cancelled call does not fail the others.
func (lc *ListCache) snapshot(ctx context.Context, host string, key listKey, fetch func(context.Context) (*snapshot, error)) (*snapshot, error) {
	lc.mu.Lock()
	if s, ok := lc.kept[key]; ok {
		if lc.now().Sub(s.listedAt) < lc.ttl {
			lc.mu.Unlock()
			return s, nil
		}
		lc.drop(key)
	}
	f, ok := lc.inflight[key]
	if !ok {
		fetchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &listFetch{done: make(chan struct{}), cancel: cancel}
		lc.inflight[key] = f
		lc.fetches++
		go func() {
			defer cancel()
			f.snap, f.err = fetch(fetchCtx)
			lc.mu.Lock()
			if lc.inflight[key] == f {
				delete(lc.inflight, key)
				if f.err == nil {
					lc.keep(key, f.snap)
				}
			}
			lc.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	lc.mu.Unlock()
	select {
	case <-f.done:
		return f.snap, f.err
	case <-ctx.Done():
		lc.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			f.cancel()
			if lc.inflight[key] == f {
				delete(lc.inflight, key)
			}
		}
		lc.mu.Unlock()
		return nil, &TransportError{Host: host, Err: ctx.Err()}
	}
}

// keep stores s, dropping expired snapshots and then the oldest until the
// kept ones fit the budget. lc.mu is held.
func (lc *ListCache) keep(key listKey, s *snapshot) {
	now := lc.now()
	for k, old := range lc.kept {
		if now.Sub(old.listedAt) >= lc.ttl {
			lc.drop(k)
		}
	}
	for lc.used+s.size > lc.budget && len(lc.kept) > 0 {
		var oldest listKey
		var at time.Time
		for k, old := range lc.kept {
			if at.IsZero() || old.listedAt.Before(at) {
				oldest, at = k, old.listedAt
			}
		}
		lc.drop(oldest)
	}
	if lc.used+s.size <= lc.budget {
		lc.kept[key] = s
		lc.used += s.size
	}
}

func (lc *ListCache) drop(key listKey) {
	lc.used -= lc.kept[key].size
	delete(lc.kept, key)
}

// acquire waits for a slot; giving up is a cancellation like one during
// the request.
func (c *CachedClient) acquire(ctx context.Context) error {
	select {
	case c.cache.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &TransportError{Host: c.base.Host, Err: ctx.Err()}
	}
}

func (lc *ListCache) release() { <-lc.slots }

// interner makes a list compact: the names, IDs and permission lists that
// many tokens repeat (orgs, users, buckets, all-access permission sets) are
// held once. size estimates the bytes it holds.
type interner struct {
	strs  map[string]string
	perms map[string][]Permission
	key   strings.Builder
	size  int64
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, perms: map[string][]Permission{}}
}

func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	s = strings.Clone(s)
	in.strs[s] = s
	in.size += int64(len(s)) + 48 // the string and its map entry
	return s
}

// compact returns a with repeated strings and permission lists shared.
func (in *interner) compact(a *Authorization) Authorization {
	out := *a
	out.ID, out.Description = strings.Clone(a.ID), strings.Clone(a.Description)
	out.Status, out.OrgID, out.Org = in.str(a.Status), in.str(a.OrgID), in.str(a.Org)
	out.UserID, out.User = in.str(a.UserID), in.str(a.User)
	out.CreatedAt, out.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()

	in.key.Reset()
	for _, p := range a.Permissions {
		r := p.Resource
		for _, s := range []string{p.Action, r.Type, r.ID, r.Name, r.OrgID, r.Org} {
			in.key.WriteString(s)
			in.key.WriteByte(0)
		}
	}
	if ps, ok := in.perms[in.key.String()]; ok {
		out.Permissions = ps
		return out
	}
	ps := make([]Permission, len(a.Permissions))
	for i, p := range a.Permissions {
		r := p.Resource
		ps[i] = Permission{Action: in.str(p.Action), Resource: Resource{
			Type: in.str(r.Type), ID: in.str(r.ID), Name: in.str(r.Name), OrgID: in.str(r.OrgID), Org: in.str(r.Org),
		}}
	}
	key := in.key.String()
	in.perms[key] = ps
	in.size += int64(len(key)) + 48 + int64(len(ps))*int64(unsafe.Sizeof(Permission{}))
	out.Permissions = ps
	return out
}
