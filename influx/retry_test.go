package influx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", 0}, // does not parse as an int
		{"999999999", 366 * 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second},
		{now.Add(30 * time.Second).Format(time.ANSIC), 30 * time.Second},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRetryPolicyNext(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.MaxAttempts != 3 || p.Budget != 10*time.Second {
		t.Fatalf("defaults %+v, want 3 tries and 10 s", p)
	}
	limited := func(status int, after time.Duration) error {
		return &APIError{StatusCode: status, RetryAfter: after}
	}
	for _, tc := range []struct {
		name     string
		err      error
		attempt  int
		elapsed  time.Duration
		wantWait time.Duration
		retry    bool
	}{
		{"429 with Retry-After", limited(429, 2*time.Second), 1, 0, 2 * time.Second, true},
		{"503 with Retry-After", limited(503, time.Second), 2, time.Second, time.Second, true},
		{"429 without Retry-After backs off", limited(429, 0), 1, 0, 500 * time.Millisecond, true},
		{"backoff doubles", limited(503, 0), 2, time.Second, time.Second, true},
		{"third try is the last", limited(429, time.Second), 3, 2 * time.Second, 0, false},
		{"wait beyond the budget", limited(429, 11*time.Second), 1, 0, 0, false},
		{"wait that ends past the budget", limited(429, 3*time.Second), 2, 8 * time.Second, 0, false},
		{"wait that ends at the budget", limited(429, 2*time.Second), 2, 8 * time.Second, 2 * time.Second, true},
		{"500 is not retried", limited(500, time.Second), 1, 0, 0, false},
		{"502 is not retried", limited(502, 0), 1, 0, 0, false},
		{"401 is not retried", limited(401, 0), 1, 0, 0, false},
		{"transport errors are not retried", &TransportError{Host: "h", Err: errors.New("refused")}, 1, 0, 0, false},
		{"wrapped 429", fmt.Errorf("x: %w", limited(429, time.Second)), 1, 0, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, retry := p.next(tc.err, tc.attempt, tc.elapsed)
			if retry != tc.retry || wait != tc.wantWait {
				t.Errorf("next = %s, %v; want %s, %v", wait, retry, tc.wantWait, tc.retry)
			}
		})
	}
}

// limitedServer is the fake InfluxDB, holding no token, answering each
// request with the next of statuses (repeating the last), with Retry-After
// from retryAfter; a 200 is its empty list.
func limitedServer(t *testing.T, retryAfter func(n int) string, statuses ...int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := fakeinflux.Start(t, fakeinflux.World{})
	s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		i := int(n.Add(1)) - 1
		status := statuses[min(i, len(statuses)-1)]
		if status == 200 {
			return false
		}
		if ra := retryAfter(i); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		fakeinflux.WriteError(w, status, "too many requests", "slow down", false)
		return true
	})
	return s.HTTP, &n
}

func retryClient(t *testing.T, host string, p RetryPolicy) *Client {
	t.Helper()
	c, err := New(Options{Host: host, Token: fakeinflux.Token, Timeout: 5 * time.Second, Retry: p})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func list(ctx context.Context, c *Client) error {
	return c.ListAuthorizations(ctx, ListFilter{}, func(*Authorization) error { return nil })
}

func seconds(s string) func(int) string { return func(int) string { return s } }

func TestRetryWaitsForRetryAfterThenSucceeds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		header func(int) string
	}{
		{"429, seconds", 429, seconds("1")},
		// The HTTP date has whole seconds: ask for 2 s to wait at least 1.
		{"503, HTTP date", 503, func(int) string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, n := limitedServer(t, tc.header, tc.status, 200)
			start := time.Now()
			if err := list(t.Context(), retryClient(t, srv.URL, RetryPolicy{})); err != nil {
				t.Fatalf("err = %v, want success after one retry", err)
			}
			took := time.Since(start)
			if n.Load() != 2 {
				t.Errorf("%d requests, want 2", n.Load())
			}
			if took < 900*time.Millisecond || took > 8*time.Second {
				t.Errorf("took %s, want about the Retry-After wait", took)
			}
		})
	}
}

func TestRetryIsBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		policy    RetryPolicy
		header    func(int) string
		status    int
		ctxLimit  time.Duration
		wantTries int64
		maxTime   time.Duration
		minTime   time.Duration
	}{
		// maxTime only catches a wait that should not happen, so it is
		// well below that wait but far above what a loaded machine takes.
		{"at most 3 tries", RetryPolicy{Backoff: 10 * time.Millisecond}, seconds(""), 429, 0, 3, 8 * time.Second, 30 * time.Millisecond},
		{"3 tries with Retry-After", RetryPolicy{}, seconds("1"), 503, 0, 3, 9 * time.Second, 1900 * time.Millisecond},
		{"Retry-After beyond the 10 s budget: no wait", RetryPolicy{}, seconds("11"), 429, 0, 1, 8 * time.Second, 0},
		{"budget counts the time spent", RetryPolicy{Budget: 1500 * time.Millisecond}, seconds("1"), 429, 0, 2, 8 * time.Second, 900 * time.Millisecond},
		{"never past the call's deadline", RetryPolicy{}, seconds("8"), 429, 5 * time.Second, 1, 4 * time.Second, 0},
		{"500 is not retried", RetryPolicy{}, seconds("1"), 500, 0, 1, 8 * time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, n := limitedServer(t, tc.header, tc.status)
			ctx := t.Context()
			if tc.ctxLimit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxLimit)
				defer cancel()
			}
			start := time.Now()
			err := list(ctx, retryClient(t, srv.URL, tc.policy))
			took := time.Since(start)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Fatalf("err = %v, want the %d", err, tc.status)
			}
			if n.Load() != tc.wantTries {
				t.Errorf("%d tries, want %d", n.Load(), tc.wantTries)
			}
			if took > tc.maxTime || took < tc.minTime {
				t.Errorf("took %s, want %s to %s", took, tc.minTime, tc.maxTime)
			}
		})
	}
}

// A call cancelled while waiting to retry returns at once.
func TestRetryWaitEndsWithTheCall(t *testing.T) {
	t.Parallel()
	srv, n := limitedServer(t, seconds("9"), 429)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := list(ctx, retryClient(t, srv.URL, RetryPolicy{}))
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %s after the cancellation", took)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 9*time.Second {
		t.Errorf("err = %v, want the 429 with its Retry-After", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d tries, want 1", n.Load())
	}
}
