// Child process for crash.test.ts: appends numbered records and reports each one on
// stdout only after its append resolved, until the parent SIGKILLs it. Plain JS on the
// compiled WAL (dist/), so it runs without a TypeScript runner.
//
//   node crash-child.mjs <dir> <fsync> <startIndex> <count> <payloadBytes> <inFlight> <perCall> <ackEvery>
//
// stdout lines (pipes are written synchronously on Linux, so a printed line is never lost):
//   ready <lastSeq> <ackedSeq>      after open (recovery done)
//   ok <firstSeq> <lastSeq> <firstIndex>   after append() of records firstIndex.. resolved
//   ack <seq>                       after ack(seq) resolved
//   done                            all appends resolved (the process then idles until killed)
import { openWal } from '../../dist/sidecar/wal/index.js'

const [dir, fsync, startIndex, count, payloadBytes, inFlight, perCall, ackEvery] = process.argv.slice(2)
const START = Number(startIndex)
const N = START + Number(count)
const SIZE = Number(payloadBytes)
const WINDOW = Number(inFlight)
const PER_CALL = Number(perCall)
const ACK_EVERY = Number(ackEvery)

/** Record i: "rec:<i>:" then filler derived from i, SIZE bytes in all (at least the prefix). */
function payload(i) {
  const head = Buffer.from(`rec:${i}:`)
  const out = Buffer.alloc(Math.max(SIZE, head.length))
  head.copy(out, 0)
  for (let j = head.length; j < out.length; j++) out[j] = (i * 31 + j * 7) & 0xff
  return out
}

const say = (line) => process.stdout.write(line + '\n')
const fatal = (err) => {
  say(`error ${String(err?.stack ?? err).replace(/\n/g, ' | ')}`)
  process.exit(3)
}

const wal = await openWal({ dir, fsync, segmentBytes: 4096, maxBytes: 64 * 1024 * 1024 })
say(`ready ${wal.lastSeq} ${wal.ackedSeq}`)
setInterval(() => {}, 1 << 30) // stay alive until killed

let next = START
let inflight = 0
let reported = 0
let acking = false
await new Promise((resolve) => {
  const pump = () => {
    while (inflight < WINDOW && next < N) {
      const first = next
      const n = Math.min(PER_CALL, N - next)
      const batch = []
      for (let k = 0; k < n; k++) batch.push(payload(first + k))
      next += n
      inflight++
      wal.append(batch).then((r) => {
        say(`ok ${r.firstSeq} ${r.lastSeq} ${first}`)
        inflight--
        reported += n
        if (ACK_EVERY > 0 && !acking && reported % ACK_EVERY < n && r.lastSeq > 5) {
          acking = true
          const upto = r.lastSeq - 5
          wal.ack(upto).then(() => {
            say(`ack ${upto}`)
            acking = false
          }, fatal)
        }
        if (next >= N && inflight === 0) resolve()
        else pump()
      }, fatal)
    }
  }
  pump()
})
say('done')
