package app

import "time"

// drain is the first step of a shutdown asked for from outside (the
// context Run was given ended): health turns NOT_SERVING, gRPC and
// /healthz alike, while every server goes on serving for DrainDelay, so a
// load balancer has the time to see it and stop sending new requests here
// before the listeners close. HTTP keep-alives are turned off meanwhile:
// each response closes its connection, so a client that keeps one open
// reconnects through the load balancer, to another replica.
//
// With no delay (the default, fit for a lone server) health still turns
// NOT_SERVING first, as it always did, but nothing waits.
func (c *Completed) drain() {
	c.health.Shutdown() // every service reports NOT_SERVING from here on
	if c.cfg.DrainDelay <= 0 {
		return
	}
	c.httpSrv.SetKeepAlivesEnabled(false)
	c.log.Info("draining: health reports NOT_SERVING; still serving until the drain delay ends",
		"drain_delay", c.cfg.DrainDelay)
	t := time.NewTimer(c.cfg.DrainDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.skipDrain:
		c.log.Info("drain cut short")
	}
}

// SkipDrain ends the drain delay at once, or skips it if the shutdown
// has not begun: goodwilld calls it on a second SIGTERM or interrupt. The
// graceful shutdown that follows the drain still runs.
func (c *Completed) SkipDrain() {
	c.skipDrainOnce.Do(func() { close(c.skipDrain) })
}
