package main

import (
	"errors"
	"io"
	"log"
	"net"
	"net/url"
	"time"
)

// delayDatabase puts a TCP proxy in front of the PostgreSQL server of
// admin that holds every chunk of bytes, in each direction, for d before
// passing it on, as a database across a network would (a round trip gains
// 2d), and returns admin's URL pointed at the proxy. Everything the run
// sends to PostgreSQL goes through it: the baselines, the servers, the
// replicas. The proxy's own CPU counts as the load generator's.
//
// It is how -db-delay shows what several group-commit writers are for:
// on loopback a commit hardly waits, so a second batch in flight has
// nothing to overlap.
func delayDatabase(admin string, d time.Duration) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	upstream := u.Host
	if u.Port() == "" {
		upstream = net.JoinHostPort(u.Hostname(), "5432")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				up, err := net.Dial("tcp", upstream)
				if err != nil {
					log.Printf("db-delay: %v", err)
					c.Close()
					return
				}
				go delayed(up, c, d)
				delayed(c, up, d)
			}()
		}
	}()
	u.Host = lis.Addr().String()
	return u.String(), nil
}

// delayed copies src to dst, each chunk d after it was read, in order,
// and closes both when src ends.
func delayed(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(d)}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					log.Printf("db-delay: %v", err)
				}
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}
