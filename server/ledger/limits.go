package ledger

import "time"

// Limits bound every request. They live in one place so the API, the docs
// and the tests agree; zero fields take the defaults in WithDefaults.
type Limits struct {
	MaxIDLength          int
	MaxKeyLength         int
	MaxNameLength        int
	MaxSegmentLength     int
	MaxSourceLength      int
	MaxNoteLength        int
	MaxAttributes        int
	MaxAttributeKey      int
	MaxAttributeValue    int
	MaxMagnitude         float64
	MaxValue             float64
	MaxFutureSkew        time.Duration
	MaxBatch             int
	MaxIncidentCustomers int
	MaxIncidentHours     float64
	MaxSeverity          float64
	// MaxExplainTop bounds ExplainBalance's top events.
	MaxExplainTop int
	// MaxKindFilters bounds the kinds one ListEvents call may name.
	MaxKindFilters int
	// IncidentChunk is how many customers of an incident share one
	// transaction.
	IncidentChunk   int
	DefaultPageSize int
	MaxPageSize     int
}

// WithDefaults fills every zero field with its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxIDLength, 128)
	def(&l.MaxKeyLength, 128)
	def(&l.MaxNameLength, 256)
	def(&l.MaxSegmentLength, 64)
	def(&l.MaxSourceLength, 64)
	def(&l.MaxNoteLength, 1024)
	def(&l.MaxAttributes, 32)
	def(&l.MaxAttributeKey, 64)
	def(&l.MaxAttributeValue, 256)
	def(&l.MaxBatch, 1000)
	def(&l.MaxIncidentCustomers, 10000)
	def(&l.MaxExplainTop, 100)
	def(&l.MaxKindFilters, 32)
	def(&l.IncidentChunk, 500)
	def(&l.DefaultPageSize, 50)
	def(&l.MaxPageSize, 1000)
	if l.MaxMagnitude == 0 {
		l.MaxMagnitude = 1e6
	}
	if l.MaxIncidentHours == 0 {
		l.MaxIncidentHours = 1e4
	}
	if l.MaxSeverity == 0 {
		l.MaxSeverity = 100
	}
	if l.MaxValue == 0 {
		l.MaxValue = 1e6
	}
	if l.MaxFutureSkew == 0 {
		l.MaxFutureSkew = 5 * time.Minute
	}
	return l
}
