// The nats.go ceiling of bench:pipeline: what scrub does at the transport level, with nothing
// of Ben's work in between. A durable pull consumer (ack-all, max_ack_pending like Ben's stage
// durables) reads <stream> (FACTS) in batches; every message is published again, same bytes and
// headers, to `<prefix>.scrubbed.<lane>.<source>` (DERIVED) with its own Nats-Msg-Id,
// acknowledged asynchronously; a batch's input is acked (one ack-all on its last message) once
// every output of the batch has its PubAck. Batches are pipelined (up to <inflight> at once),
// as Ben's epochs are. Stops after <count> inputs and prints one JSON line: inputs, outputs
// stored, seconds, and this process's CPU seconds (user + system).
//
//	go run jschain.go <url> <stream> <prefix> <count> <batch> <inflight>
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type batch struct {
	last    *nats.Msg
	futures []nats.PubAckFuture
}

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: jschain <url> <stream> <prefix> <count> <batch> <inflight>")
		os.Exit(2)
	}
	stream, prefix := os.Args[2], os.Args[3]
	count, _ := strconv.Atoi(os.Args[4])
	size, _ := strconv.Atoi(os.Args[5])
	inflight, _ := strconv.Atoi(os.Args[6])
	nc, js := connectJS(os.Args[1], nats.PublishAsyncMaxPending(size*inflight))
	defer nc.Close()
	sub, err := js.PullSubscribe(prefix+".fact.>", "go-chain", nats.BindStream(stream), nats.AckAll(), nats.MaxAckPending(10_000), nats.DeliverAll())
	if err != nil {
		fail("subscribe", err)
	}
	// The acker: waits for a batch's PubAcks in order, then acks the batch's last input.
	pending := make(chan batch, inflight)
	done := make(chan struct{})
	stored, failed := 0, 0
	go func() {
		for b := range pending {
			for _, f := range b.futures {
				select {
				case <-f.Ok():
					stored++
				case <-f.Err():
					failed++
				}
			}
			if err := b.last.Ack(); err != nil {
				fail("ack", err)
			}
		}
		close(done)
	}()
	factHead := prefix + ".fact."
	cpu0 := cpuSecs()
	start := time.Now()
	read := 0
	for read < count {
		want := size
		if count-read < want {
			want = count - read
		}
		msgs, err := sub.Fetch(want, nats.MaxWait(5*time.Second))
		if err == nats.ErrTimeout {
			continue
		}
		if err != nil {
			fail("fetch", err)
		}
		b := batch{last: msgs[len(msgs)-1], futures: make([]nats.PubAckFuture, 0, len(msgs))}
		for _, m := range msgs {
			out := nats.NewMsg(prefix + ".scrubbed." + strings.TrimPrefix(m.Subject, factHead))
			out.Data = m.Data
			out.Header.Set("Ben-Schema", m.Header.Get("Ben-Schema"))
			out.Header.Set("Ben-Schema-Fp", m.Header.Get("Ben-Schema-Fp"))
			f, err := js.PublishMsgAsync(out, nats.MsgId(m.Header.Get("Nats-Msg-Id")+".s"), nats.StallWait(time.Minute))
			if err != nil {
				fail("publish", err)
			}
			b.futures = append(b.futures, f)
		}
		read += len(msgs)
		pending <- b
	}
	close(pending)
	<-done
	secs := time.Since(start).Seconds()
	out, _ := json.Marshal(map[string]interface{}{"inputs": read, "stored": stored, "failed": failed, "secs": secs, "cpu_s": cpuSecs() - cpu0})
	fmt.Println(string(out))
}
