// The nats.go baseline of bench:ingest and bench:otlp: acknowledged JetStream publishes with
// PublishMsgAsync, Nats-Msg-Id on every message, at most <window> PubAcks awaited at once (a full
// window waits, like Ben's publisher, instead of failing after 200 ms). Reads the messages
// (subject, id, more header lines, bytes) from a file written by the bench, publishes them all,
// waits for every PubAck, and prints one JSON line with the outcome, the time taken and the CPU
// time this process spent doing it (reading excluded from both).
//
//	go run jspub.go <urls> <file> <window> <Ben-Schema> <Ben-Schema-Fp>
//
// An empty <Ben-Schema> or <Ben-Schema-Fp> sets no such header (the records' own lines do).
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type record struct {
	subject string
	id      string
	headers [][2]string
	data    []byte
}

// "Name: value\r\n" lines → pairs.
func headerLines(b []byte) [][2]string {
	var out [][2]string
	for _, l := range strings.Split(string(b), "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// Write system calls this process made so far (syscw of /proc/self/io), 0 when unreadable.
func writeCalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "syscw: ") {
			n, _ := strconv.ParseInt(strings.TrimPrefix(l, "syscw: "), 10, 64)
			return n
		}
	}
	return 0
}

func readRecords(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out []record
	var n [4]byte
	next := func() ([]byte, error) {
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, err
		}
		b := make([]byte, binary.LittleEndian.Uint32(n[:]))
		_, err := io.ReadFull(r, b)
		return b, err
	}
	for {
		s, err := next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		id, err := next()
		if err != nil {
			return nil, err
		}
		hdr, err := next()
		if err != nil {
			return nil, err
		}
		data, err := next()
		if err != nil {
			return nil, err
		}
		out = append(out, record{string(s), string(id), headerLines(hdr), data})
	}
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: jspub <urls> <file> <window> <schema> <fingerprint>")
		os.Exit(2)
	}
	window, _ := strconv.Atoi(os.Args[3])
	recs, err := readRecords(os.Args[2])
	if err != nil {
		fail("read", err)
	}
	nc, js := connectJS(os.Args[1], nats.PublishAsyncMaxPending(window))
	defer nc.Close()
	futures := make([]nats.PubAckFuture, 0, len(recs))
	cpu0 := cpuSecs()
	writes0 := writeCalls()
	start := time.Now()
	for _, rec := range recs {
		m := nats.NewMsg(rec.subject)
		m.Data = rec.data
		if os.Args[4] != "" {
			m.Header.Set("Ben-Schema", os.Args[4])
		}
		if os.Args[5] != "" {
			m.Header.Set("Ben-Schema-Fp", os.Args[5])
		}
		for _, h := range rec.headers {
			m.Header.Set(h[0], h[1])
		}
		f, err := js.PublishMsgAsync(m, nats.MsgId(rec.id), nats.StallWait(time.Minute))
		if err != nil {
			fail("publish", err)
		}
		futures = append(futures, f)
	}
	stored, duplicate, failed := awaitPubAcks(js, futures)
	secs := time.Since(start).Seconds()
	cpu := cpuSecs() - cpu0
	writes := writeCalls() - writes0
	out, _ := json.Marshal(map[string]interface{}{"published": len(recs), "stored": stored, "duplicate": duplicate, "failed": failed, "secs": secs, "cpuSecs": cpu, "writes": writes})
	fmt.Println(string(out))
}
