package nats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// What many goroutines write arrives whole, each writer's bytes in its order, and Close
// lets the last of it out before the socket closes.
func TestCoalescingConnKeepsEveryByteInOrder(t *testing.T) {
	client, server := tcpPair(t)
	c := newCoalescingConn(client, 5*time.Second)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := fmt.Sprintf("w%d:%d;", w, i)
				if n, err := c.Write([]byte(msg)); err != nil || n != len(msg) {
					t.Errorf("Write = %d, %v", n, err)
					return
				}
			}
		}()
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(server); got <- b }()
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	next := make([]int, writers)
	for _, m := range bytes.Split(bytes.TrimSuffix(all, []byte(";")), []byte(";")) {
		var w, i int
		if _, err := fmt.Sscanf(string(m), "w%d:%d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("bad message %q", m)
		}
		if i != next[w] {
			t.Fatalf("writer %d: message %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	for w, n := range next {
		if n != each {
			t.Fatalf("writer %d: %d messages arrived, want %d", w, n, each)
		}
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// A socket write that fails closes the connection (the reader sees it, as nats.go's read
// loop does before it reconnects) and the next Write returns the error.
func TestCoalescingConnWriteErrorCloses(t *testing.T) {
	client, server := tcpPair(t)
	c := newCoalescingConn(client, 5*time.Second)
	if err := client.(*net.TCPConn).CloseWrite(); err != nil { // the socket refuses writes from now on
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("first Write: %v (it only gathers)", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("y"))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("Writes kept succeeding on a socket that refuses them")
	}
	if _, rerr := client.Read(make([]byte, 1)); rerr == nil {
		t.Fatal("the connection is still open for reading")
	}
	_ = server
	_ = c.Close()
}
