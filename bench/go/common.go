// What the bench's nats.go programs share: compileGo (bench/go-baseline.ts) builds each of them
// together with this file.
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// User + system CPU seconds this process has used.
func cpuSecs() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// Says what failed and why on stderr, and exits 1.
func fail(what string, err error) {
	fmt.Fprintln(os.Stderr, what+":", err)
	os.Exit(1)
}

// Connects to the NATS server at url and opens its JetStream context with opts; exits with the
// reason if either fails. The caller closes the connection.
func connectJS(url string, opts ...nats.JSOpt) (*nats.Conn, nats.JetStreamContext) {
	nc, err := nats.Connect(url)
	if err != nil {
		fail("connect", err)
	}
	js, err := nc.JetStream(opts...)
	if err != nil {
		nc.Close()
		fail("jetstream", err)
	}
	return nc, js
}

// Waits (at most 5 minutes) until every PubAck of the asynchronous publishes has arrived, then
// counts the outcomes: stored, duplicate (the stream had the message id already), failed.
func awaitPubAcks(js nats.JetStreamContext, futures []nats.PubAckFuture) (stored, duplicate, failed int) {
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		fail("publish", fmt.Errorf("PubAcks did not all arrive within 5 minutes"))
	}
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				duplicate++
			} else {
				stored++
			}
		case <-f.Err():
			failed++
		}
	}
	return
}
