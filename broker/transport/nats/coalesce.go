package nats

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// coalescingConn batches the connection's socket writes. nats.go's flusher writes its
// buffer to the socket as soon as a publish wakes it, holding the connection's lock for the
// whole system call. A broker publishes from many goroutines at once (each caller its REQ,
// each served request its RES), spread out in time by the one delivery goroutine, so that
// flusher made nearly one write per packet (1.7 per remote call, against 0.8 for the raw
// nats.go loop) and the publishers parked on its lock meanwhile. Here Write only appends to
// a buffer and returns; one goroutine per connection writes what has gathered, and
// everything that arrives during a write goes out together in the next one.
//
// Order is kept (one buffer, one writer). A failed write closes the connection, so nats.go
// sees it on its read side and reconnects; later Writes return the error. Past
// maxUnwritten bytes a Write waits for the writer, as it would wait for the socket.
type coalescingConn struct {
	net.Conn
	timeout time.Duration // of one socket write (nats.go's flusher timeout)

	mu       sync.Mutex
	drained  sync.Cond // signalled after each socket write
	pending  []byte
	spare    []byte
	err      error
	closed   bool
	wake     chan struct{} // cap 1: there is something to write, or the conn is closed
	finished chan struct{} // closed when the writer is done
}

// maxUnwritten bounds what Write gathers before it waits for the socket.
const maxUnwritten = 4 << 20

// closeWait bounds how long Close waits for what was written to reach the socket.
const closeWait = time.Second

func newCoalescingConn(c net.Conn, timeout time.Duration) *coalescingConn {
	cc := &coalescingConn{Conn: c, timeout: timeout, wake: make(chan struct{}, 1), finished: make(chan struct{})}
	cc.drained.L = &cc.mu
	go cc.writer()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && !c.closed && len(c.pending) >= maxUnwritten {
		c.drained.Wait()
	}
	if c.err != nil || c.closed {
		err := c.err
		c.mu.Unlock()
		if err == nil {
			err = net.ErrClosed
		}
		return 0, err
	}
	idle := len(c.pending) == 0
	c.pending = append(c.pending, p...)
	c.mu.Unlock()
	if idle {
		c.signal()
	}
	return len(p), nil
}

func (c *coalescingConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// SetWriteDeadline is the writer's business: a deadline nats.go sets around a Write would
// be gone by the time the bytes are written. Each socket write gets c.timeout.
func (c *coalescingConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets the read deadline only (see SetWriteDeadline).
func (c *coalescingConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// Close lets what was written reach the socket (for at most closeWait), then closes it.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.drained.Broadcast()
	c.mu.Unlock()
	c.signal()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.finished:
	case <-t.C:
	}
	return c.Conn.Close()
}

func (c *coalescingConn) writer() {
	defer close(c.finished)
	for range c.wake {
		runtime.Gosched() // let the goroutines that are about to publish do so first
		c.mu.Lock()
		for len(c.pending) > 0 && c.err == nil {
			batch := c.pending
			c.pending = c.spare[:0]
			c.mu.Unlock()
			_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
			_, err := c.Conn.Write(batch)
			c.mu.Lock()
			c.spare = batch[:0]
			if err != nil {
				c.err = err
				c.pending = nil
				_ = c.Conn.Close() // nats.go's read loop fails and it reconnects
			}
			c.drained.Broadcast()
		}
		done := c.closed || c.err != nil
		c.mu.Unlock()
		if done {
			return
		}
	}
}

// dialer dials TCP with a timeout and wraps each connection in a coalescingConn.
type dialer struct {
	net     net.Dialer
	timeout time.Duration
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	c, err := d.net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return newCoalescingConn(c, d.timeout), nil
}
