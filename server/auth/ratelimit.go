package auth

import (
	"sync"

	"golang.org/x/time/rate"
)

// RateLimits is the token bucket every key gets: PerSecond requests a
// second on average, Burst at once. PerSecond 0 turns limiting off.
type RateLimits struct {
	PerSecond float64
	Burst     int
}

// Limiter keeps one token bucket per key, in memory: each server limits
// what it serves (with N replicas behind a balancer a key gets up to N
// times the rate; docs/security.md says so).
type Limiter struct {
	limits RateLimits
	mu     sync.Mutex
	byKey  map[string]*rate.Limiter
}

// NewLimiter returns a Limiter; nil when limits are off.
func NewLimiter(l RateLimits) *Limiter {
	if l.PerSecond <= 0 {
		return nil
	}
	if l.Burst <= 0 {
		l.Burst = max(1, int(l.PerSecond))
	}
	return &Limiter{limits: l, byKey: map[string]*rate.Limiter{}}
}

// Allow takes a token from keyID's bucket and reports whether there was
// one. A nil Limiter allows everything.
func (l *Limiter) Allow(keyID string) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	b, ok := l.byKey[keyID]
	if !ok {
		b = rate.NewLimiter(rate.Limit(l.limits.PerSecond), l.limits.Burst)
		l.byKey[keyID] = b
	}
	l.mu.Unlock()
	return b.Allow()
}
