package ledger

// customerRef names a customer across tenants.
type customerRef struct{ tenant, id string }

func refOf(p *pending) customerRef { return customerRef{p.tenant, p.e.CustomerID} }

// scheduler is the committer's bookkeeping of which customers are being
// written, so that several writers never hold two batches of one
// customer at once. Two such batches would race: the later one read the
// customer before the earlier one committed, and on PostgreSQL its guarded
// write would then find the row changed and run again (or, where nothing
// guards the write, order the customer's events by commit instead of
// arrival). Only the collector goroutine uses it.
type scheduler struct {
	// inFlight are the customers of the batches being committed. A
	// customer is in one at most, since its writes are held meanwhile.
	inFlight map[customerRef]bool
	// held are the writes waiting for their customer's batch to finish,
	// in arrival order; heldOf counts them per customer.
	held   []*pending
	heldOf map[customerRef]int
	// idle is how many writers are free.
	idle int
}

func newScheduler(writers int) *scheduler {
	return &scheduler{inFlight: map[customerRef]bool{}, heldOf: map[customerRef]int{}, idle: writers}
}

// admit adds a newly arrived write to the batch being formed, or holds it
// when its customer is in flight or has an older write held.
func (s *scheduler) admit(batch []*pending, p *pending) []*pending {
	r := refOf(p)
	if s.inFlight[r] || s.heldOf[r] > 0 {
		s.held = append(s.held, p)
		s.heldOf[r]++
		return batch
	}
	return append(batch, p)
}

// release moves into batch, up to max writes in all, the held writes whose
// customers are no longer in flight, oldest first. A customer's writes
// keep their order: one stays held only if its customer is in flight or
// the batch is full, and then so do all its later ones.
func (s *scheduler) release(batch []*pending, max int) []*pending {
	if len(s.held) == 0 {
		return batch
	}
	kept := s.held[:0]
	for _, p := range s.held {
		r := refOf(p)
		if s.inFlight[r] || len(batch) >= max {
			kept = append(kept, p)
			continue
		}
		batch = append(batch, p)
		if s.heldOf[r]--; s.heldOf[r] == 0 {
			delete(s.heldOf, r)
		}
	}
	clear(s.held[len(kept):]) // drop the references the batch took
	s.held = kept
	return batch
}

// dispatch marks a batch's customers in flight as it goes to a writer.
func (s *scheduler) dispatch(batch []*pending) {
	s.idle--
	for _, p := range batch {
		s.inFlight[refOf(p)] = true
	}
}

// done releases a committed batch's customers and its writer.
func (s *scheduler) done(batch []*pending) {
	s.idle++
	for _, p := range batch {
		delete(s.inFlight, refOf(p))
	}
}
