package auth

import "time"

// SetClock lets external tests move an Authenticator's clock.
func SetClock(a *Authenticator, now func() time.Time) { a.now = now }

// IDLen exposes the token layout to external tests.
const IDLen = idLen
