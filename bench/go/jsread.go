// The nats.go reference of bench:replay's plain read: one ordered consumer (nats.go's
// OrderedConsumer: ephemeral push, flow control, heartbeats) per <stream>=<filter> argument,
// all read at once, each up to the stream's last message when it started. Counts messages and
// bytes, touches every payload, and prints one JSON line: messages, bytes, seconds, and this
// process's CPU seconds.
//
//	go run jsread.go <urls> FACTS=ben.fact.> DERIVED=ben.scrubbed.> ...
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	nc, js := connectJS(os.Args[1], nats.MaxWait(time.Minute))
	defer nc.Close()
	var msgs, bytes int64
	var sum uint32
	var wg sync.WaitGroup
	// Every stream's last sequence, and how many messages each filter matches, before any
	// delivery flows: a JetStream API request answered behind a flood of deliveries waits (up to
	// MaxWait) for the flood to be read, and a filter that matches nothing delivers nothing.
	lasts := map[string]*nats.StreamInfo{}
	matches := map[string]uint64{}
	for _, arg := range os.Args[2:] {
		parts := strings.SplitN(arg, "=", 2)
		stream, filter := parts[0], parts[1]
		info, err := js.StreamInfo(stream, &nats.StreamInfoRequest{SubjectsFilter: filter})
		if err != nil {
			fail("stream info "+stream+" "+filter, err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		matches[arg] = n
		if lasts[stream] == nil {
			lasts[stream] = info
		}
	}
	c0 := cpuSecs()
	t0 := time.Now()
	for _, arg := range os.Args[2:] {
		parts := strings.SplitN(arg, "=", 2)
		stream, filter := parts[0], parts[1]
		info := lasts[stream]
		last := info.State.LastSeq
		if info.State.Msgs == 0 || matches[arg] == 0 {
			continue
		}
		done := make(chan struct{})
		var once sync.Once
		finish := func() { once.Do(func() { close(done) }) }
		sub, err := js.Subscribe(filter, func(m *nats.Msg) {
			meta, err := m.Metadata()
			if err != nil {
				return
			}
			if meta.Sequence.Stream > last {
				finish()
				return
			}
			atomic.AddInt64(&msgs, 1)
			atomic.AddInt64(&bytes, int64(len(m.Data)))
			if len(m.Data) > 0 {
				atomic.AddUint32(&sum, uint32(m.Data[len(m.Data)-1]))
			}
			if meta.NumPending == 0 || meta.Sequence.Stream >= last {
				finish()
			}
		}, nats.OrderedConsumer(), nats.BindStream(stream), nats.DeliverAll())
		if err != nil {
			fail("subscribe "+stream+" "+filter, err)
		}
		// Unlimited pending: a message dropped as a slow consumer's is a gap, and an ordered
		// consumer that sees a gap starts over.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			fail("pending limits "+filter, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-done:
			case <-time.After(10 * time.Minute):
			}
			sub.Unsubscribe()
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	out, _ := json.Marshal(map[string]interface{}{"messages": msgs, "bytes": bytes, "secs": secs, "cpu_secs": cpuSecs() - c0, "check": sum})
	fmt.Println(string(out))
}
