package influx

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// The retry bounds a Client uses unless its Options say otherwise.
const (
	DefaultMaxAttempts = 3
	DefaultRetryBudget = 10 * time.Second
)

// RetryPolicy bounds how a rate-limited or briefly unavailable call (429,
// 503) is retried: InfluxDB Cloud answers those with Retry-After.
type RetryPolicy struct {
	MaxAttempts int           // tries in all, including the first; default 3
	Budget      time.Duration // total time spent waiting and trying; default 10s
	Backoff     time.Duration // wait when no Retry-After is given; default 500ms, doubled each time
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Budget <= 0 {
		p.Budget = DefaultRetryBudget
	}
	if p.Backoff <= 0 {
		p.Backoff = 500 * time.Millisecond
	}
	return p
}

// next decides whether err, after attempt tries that took elapsed in all, is
// worth another try and how long to wait first.
func (p RetryPolicy) next(err error, attempt int, elapsed time.Duration) (time.Duration, bool) {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return 0, false
	}
	if apiErr.StatusCode != http.StatusTooManyRequests && apiErr.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	if attempt >= p.MaxAttempts {
		return 0, false
	}
	wait := apiErr.RetryAfter
	if wait <= 0 {
		wait = p.Backoff << (attempt - 1)
	}
	if elapsed+wait > p.Budget {
		return 0, false
	}
	return wait, true
}

// parseRetryAfter reads a Retry-After header: whole seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		s = min(s, 366*24*3600) // a year is "not soon" already; avoid overflow
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
