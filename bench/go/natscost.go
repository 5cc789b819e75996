// The publisher of bench:nats-cost: acknowledged JetStream publishes (PublishMsgAsync) of messages
// shaped like the sidecar drain's, paced in bursts, while the bench reads nats-server's CPU. One
// shape a run, given on the command line; prints one JSON line: the messages, the wall seconds
// and this process's CPU seconds of the measured part (a warm-up of 20,000 messages excluded).
//
//	natscost <url> <n> <window> <subjects> <headers: ben|none> <msgid 0|1> <payload bytes> <rate/s, 0: unpaced> <burst>
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	if len(os.Args) != 10 {
		fmt.Fprintln(os.Stderr, "usage: natscost <url> <n> <window> <subjects> <ben|none> <msgid 0|1> <payload> <rate> <burst>")
		os.Exit(2)
	}
	a := make([]int, 10)
	for _, i := range []int{2, 3, 4, 6, 7, 8, 9} {
		a[i], _ = strconv.Atoi(os.Args[i])
	}
	n, window, nsub, size, rate, burst := a[2], a[3], a[4], a[7], a[8], a[9]
	benHeaders, withID := os.Args[5] == "ben", a[6] == 1
	nc, js := connectJS(os.Args[1], nats.PublishAsyncMaxPending(window))
	defer nc.Close()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	sources := make([]string, nsub)
	for i := range sources {
		sources[i] = fmt.Sprintf("bench-otlp-%d", i+2)
	}
	failed := 0
	run := func(from, to int) {
		t0 := time.Now()
		futures := make([]nats.PubAckFuture, 0, to-from)
		for i := from; i < to; i++ {
			if rate > 0 && (i-from)%burst == 0 {
				time.Sleep(time.Until(t0.Add(time.Duration(float64(i-from) / float64(rate) * 1e9))))
			}
			src := sources[i%nsub]
			m := nats.NewMsg("ben.fact.event." + src)
			m.Data = data
			// the sidecar's header block: Nats-Msg-Id, Ben-Schema, Ben-Schema-Fp, Ben-Sidecar-Seq
			if withID {
				m.Header["Nats-Msg-Id"] = []string{fmt.Sprintf("%s:%032x", src, i)}
			}
			if benHeaders {
				m.Header["Ben-Schema"] = []string{"ben.EventFact"}
				m.Header["Ben-Schema-Fp"] = []string{"5b4c2e7d1a9f3e60"}
				m.Header["Ben-Sidecar-Seq"] = []string{strconv.Itoa(i + 1)}
			}
			f, err := js.PublishMsgAsync(m, nats.StallWait(time.Minute))
			if err != nil {
				fail("publish", err)
			}
			futures = append(futures, f)
		}
		_, _, f := awaitPubAcks(js, futures)
		failed += f
	}
	const warm = 20000
	run(0, warm)
	// the bench reads nats-server's CPU between these two lines
	fmt.Println(`{"warm":true}`)
	var ready [1]byte
	os.Stdin.Read(ready[:])
	c0, t0 := cpuSecs(), time.Now()
	run(warm, warm+n)
	out, _ := json.Marshal(map[string]interface{}{"n": n, "failed": failed, "secs": time.Since(t0).Seconds(), "cpuSecs": cpuSecs() - c0})
	fmt.Println(string(out))
}
