package influx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"
)

// DefaultCacheBudget bounds the memory all token-list snapshots together
// may hold. A list past it is not kept: calls over it stream from InfluxDB
// as they would without a cache. 8 MiB holds about 45,000 tokens of three
// permissions (compactList); it is small so that trying to keep a huge list
// and giving up adds little to the memory of streaming it.
const DefaultCacheBudget = 8 << 20

// ListCache keeps recent token lists in memory, so that the many questions
// of one audit cost one request to InfluxDB. It is safe for concurrent use;
// wrap each Client with Client.
type ListCache struct {
	ttl    time.Duration
	budget int64
	now    func() time.Time

	mu       sync.Mutex
	kept     map[listKey]*snapshot
	inflight map[listKey]*listFetch
	used     int64                 // bytes of the snapshots in kept
	dirs     map[string]keptAnswer // account/kind[/id] → a whole bucket, org or user list, or whether an id exists
}

// keptAnswer is a whole bucket, org or user list (a few thousand entries at
// most: lookups stop at MaxLookupPages), or whether one id exists.
type keptAnswer struct {
	listedAt time.Time
	answer   any
}

// listKey is one InfluxDB list query as one identity sees it. account is a
// hash of the host and token, never the token itself.
type listKey struct {
	account string
	filter  ListFilter
}

// snapshot is one token list as InfluxDB returned it, held compactly (see
// compactList). A snapshot with tooBig set holds nothing: it marks a list
// past the budget until it expires, so that calls stream it without trying
// to keep it again.
type snapshot struct {
	listedAt time.Time
	list     *compactList
	size     int64
	tooBig   bool
}

// listFetch is one request for a token list that calls share. The call
// that starts it (the lead) gets every token as it streams, so that it need
// not read the list again, whether or not the list can be kept; the others
// wait until it is known whether it can.
type listFetch struct {
	decided   chan struct{} // closed once snap or err is set
	done      chan struct{} // closed once the request has ended
	snap      *snapshot
	err       error
	streamErr error // the request's own outcome, for the lead
	waiters   int   // calls waiting for it, under ListCache.mu
	cancel    context.CancelFunc

	leadMu  sync.Mutex
	lead    func(*Authorization) error // nil once the lead has gone or failed
	leadErr error
}

// feed hands a to the lead, if it is still there, and says whether it is.
func (f *listFetch) feed(a *Authorization) bool {
	f.leadMu.Lock()
	defer f.leadMu.Unlock()
	if f.lead == nil {
		return false
	}
	if err := f.lead(a); err != nil {
		f.leadErr, f.lead = err, nil
		return false
	}
	return true
}

// detach stops feeding the lead; a token being fed is finished first.
func (f *listFetch) detach() {
	f.leadMu.Lock()
	f.lead = nil
	f.leadMu.Unlock()
}

// NewListCache returns a cache that reuses a list for ttl (0 turns reuse
// off: every call asks InfluxDB) within budget bytes (0 means
// DefaultCacheBudget).
func NewListCache(ttl time.Duration, budget int64) *ListCache {
	if budget <= 0 {
		budget = DefaultCacheBudget
	}
	return &ListCache{
		ttl: ttl, budget: budget, now: time.Now,
		kept:     map[listKey]*snapshot{},
		inflight: map[listKey]*listFetch{},
		dirs:     map[string]keptAnswer{},
	}
}

// Client returns c with ListAuthorizations, the whole bucket, org and user
// lists and Exists answered from this cache. The other methods, get_token's
// and the lookups of one name or ID included, always ask InfluxDB.
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
// share one request. fn gets a fresh Authorization each time and may keep it.
func (c *CachedClient) ListAuthorizations(ctx context.Context, f ListFilter, fn func(*Authorization) error) error {
	if c.cache.ttl <= 0 {
		return c.Client.ListAuthorizations(ctx, f, fn)
	}
	snap, led, err := c.cache.snapshot(ctx, c.base.Host, listKey{c.account, f}, c.fetch, fn)
	switch {
	case err != nil:
		return err
	case led: // fn had every token as the list streamed
		return nil
	case snap.tooBig:
		return c.Client.ListAuthorizations(ctx, f, fn)
	}
	if src, ok := ctx.Value(listSourceKey{}).(*ListSource); ok {
		*src = ListSource{Snapshot: true, ListedAt: snap.listedAt, TTL: c.cache.ttl}
	}
	return snap.list.each(func(a *Authorization) error {
		if err := ctx.Err(); err != nil {
			return &TransportError{Host: c.base.Host, Err: err}
		}
		return fn(a)
	})
}

var errNobodyLeft = errors.New("nobody waits for this token list")

// fetch asks InfluxDB for the list, feeding the lead and keeping the list
// compactly until it passes the budget; past it, the list goes on streaming
// to the lead only.
func (c *CachedClient) fetch(ctx context.Context, key listKey, f *listFetch) {
	listedAt := c.cache.now()
	list := newCompactList()
	err := c.Client.ListAuthorizations(ctx, key.filter, func(a *Authorization) error {
		if list != nil {
			list.add(a)
			if list.size > c.cache.budget {
				list = nil // the others stream it themselves
				c.cache.decide(key, f, &snapshot{listedAt: listedAt, tooBig: true}, nil)
			}
		}
		if !f.feed(a) && list == nil {
			return errNobodyLeft
		}
		return nil
	})
	if list != nil {
		if err != nil {
			c.cache.decide(key, f, nil, err)
		} else {
			list.done()
			c.cache.decide(key, f, &snapshot{listedAt: listedAt, list: list, size: list.size}, nil)
		}
	}
	f.streamErr = err
	close(f.done)
}

// snapshot returns the list for key: a kept one not older than the TTL, else
// the one a call in flight is fetching, else a new one from fetch, which
// feeds fn as it streams (led is then true and fn has had every token). The
// request stops only when every call waiting for it has given up, so one
// cancelled call does not fail the others.
func (lc *ListCache) snapshot(ctx context.Context, host string, key listKey,
	fetch func(context.Context, listKey, *listFetch), fn func(*Authorization) error) (snap *snapshot, led bool, err error) {
	lc.mu.Lock()
	if s, ok := lc.kept[key]; ok {
		if lc.now().Sub(s.listedAt) < lc.lifetime(s) {
			lc.mu.Unlock()
			return s, false, nil
		}
		lc.drop(key)
	}
	f, joined := lc.inflight[key]
	if !joined {
		fetchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &listFetch{decided: make(chan struct{}), done: make(chan struct{}), cancel: cancel, lead: fn}
		lc.inflight[key] = f
		go func() {
			defer cancel()
			fetch(fetchCtx, key, f)
		}()
	}
	f.waiters++
	lc.mu.Unlock()

	wait := f.done
	if joined {
		wait = f.decided
	}
	select {
	case <-wait:
		lc.leave(key, f)
		if joined {
			return f.snap, false, f.err
		}
		f.leadMu.Lock()
		defer f.leadMu.Unlock()
		if f.leadErr != nil {
			return nil, true, f.leadErr
		}
		return nil, true, f.streamErr
	case <-ctx.Done():
		if !joined {
			f.detach()
		}
		lc.leave(key, f)
		return nil, false, &TransportError{Host: host, Err: ctx.Err()}
	}
}

// decide records what the others get from f: a snapshot, kept unless it is
// an error, or an error. It is called once per fetch.
func (lc *ListCache) decide(key listKey, f *listFetch, s *snapshot, err error) {
	lc.mu.Lock()
	f.snap, f.err = s, err
	if lc.inflight[key] == f {
		delete(lc.inflight, key)
		if err == nil {
			lc.keep(key, s)
		}
	}
	lc.mu.Unlock()
	close(f.decided)
}

// leave counts a call out of f; the last one out cancels the request.
func (lc *ListCache) leave(key listKey, f *listFetch) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if f.waiters--; f.waiters == 0 {
		f.cancel()
		if lc.inflight[key] == f {
			delete(lc.inflight, key)
		}
	}
}

// keep stores s, dropping expired snapshots and then the oldest until the
// kept ones fit the budget. lc.mu is held.
func (lc *ListCache) keep(key listKey, s *snapshot) {
	now := lc.now()
	for k, old := range lc.kept {
		if now.Sub(old.listedAt) >= lc.lifetime(old) {
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

// lifetime is how long s is used: the TTL, or for a list past the budget
// ten times that (at least 5 minutes), since each try to keep it reads
// InfluxDB's list up to the budget for nothing.
func (lc *ListCache) lifetime(s *snapshot) time.Duration {
	if s.tooBig {
		return max(10*lc.ttl, 5*time.Minute)
	}
	return lc.ttl
}

func (lc *ListCache) drop(key listKey) {
	lc.used -= lc.kept[key].size
	delete(lc.kept, key)
}

// The whole bucket, org and user lists, and whether one id exists, are what
// the dangling flag (on every list_tokens call whose tokens name ids) and
// completions (on every keystroke) ask; they are reused for the TTL like
// token lists. A stale answer only delays the dangling flag: an id a list
// does not show is looked up.

// FindBuckets lists every bucket from the cache when name and id are "".
func (c *CachedClient) FindBuckets(ctx context.Context, name, id string) ([]Bucket, error) {
	if name != "" || id != "" {
		return c.Client.FindBuckets(ctx, name, id)
	}
	bs, err := kept(c, "buckets", func() ([]Bucket, error) { return c.Client.FindBuckets(ctx, "", "") })
	return slices.Clone(bs), err
}

// FindOrgs lists every org from the cache when name is "".
func (c *CachedClient) FindOrgs(ctx context.Context, name string) ([]Organization, error) {
	if name != "" {
		return c.Client.FindOrgs(ctx, name)
	}
	os, err := kept(c, "orgs", func() ([]Organization, error) { return c.Client.FindOrgs(ctx, "") })
	return slices.Clone(os), err
}

// FindUsers lists every user from the cache when name is "".
func (c *CachedClient) FindUsers(ctx context.Context, name string) ([]User, error) {
	if name != "" {
		return c.Client.FindUsers(ctx, name)
	}
	us, err := kept(c, "users", func() ([]User, error) { return c.Client.FindUsers(ctx, "") })
	return slices.Clone(us), err
}

// Exists answers from the cache; failures are not kept.
func (c *CachedClient) Exists(ctx context.Context, kind, id string) (bool, error) {
	return kept(c, kind+"/"+id, func() (bool, error) { return c.Client.Exists(ctx, kind, id) })
}

// kept returns the answer for key kept for this account if it is younger
// than the TTL, else fetches and keeps it. Failures are not kept.
func kept[T any](c *CachedClient, key string, fetch func() (T, error)) (T, error) {
	lc := c.cache
	if lc.ttl <= 0 {
		return fetch()
	}
	key = c.account + "/" + key
	lc.mu.Lock()
	d, ok := lc.dirs[key]
	lc.mu.Unlock()
	if ok && lc.now().Sub(d.listedAt) < lc.ttl {
		return d.answer.(T), nil
	}
	listedAt := lc.now()
	v, err := fetch()
	if err == nil {
		lc.mu.Lock()
		lc.dirs[key] = keptAnswer{listedAt: listedAt, answer: v}
		lc.mu.Unlock()
	}
	return v, err
}
