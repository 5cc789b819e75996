import { createHash } from 'node:crypto'
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core'
import { encodeRecord, hashId, Header, type FactCodec, type Rejection } from '../schemas/index.js'
import type { FactPublisher, PublishOutcome } from './publisher.js'
import type { Subjects } from './subjects.js'
import { factsRejected } from './metrics.js'

export interface RejectedInput {
  readonly subject: string
  readonly headers?: MsgHdrs
  readonly data: Uint8Array
  readonly stream?: string
  readonly seq?: number
}

/**
 * Sends refused input to `<prefix>.dlq.<stage>`: the reason code, the message, the subject,
 * the headers and the original bytes, as a `ben.DeadLetter` Avro record. Counts it.
 */
export class DeadLetters {
  constructor(
    private readonly publisher: FactPublisher,
    private readonly subjects: Subjects,
    private readonly codec: FactCodec,
    readonly stage: string,
  ) {}

  /**
   * Resolves true once the dead letter is stored (so the original may be acked). A dead letter
   * that would exceed the server's max payload keeps the reason, the original size, its SHA-256
   * and a bounded prefix of the bytes (headers `Ben-Original-Bytes`, `Ben-Original-Sha256`,
   * `Ben-Kept-Bytes`), so it is stored and never lost.
   */
  async send(input: RejectedInput, rejection: Rejection): Promise<boolean> {
    factsRejected.inc({ stage: this.stage, reason: rejection.reason })
    const hdrs: Record<string, string> = {}
    if (input.headers) for (const k of input.headers.keys()) hdrs[k] = input.headers.get(k)
    const id = hashId('dlq', this.stage, input.stream ?? '', String(input.seq ?? 0), input.subject, Buffer.from(input.data).toString('base64'))
    const room = this.publisher.maxPayload - DLQ_OVERHEAD
    let message = rejection.message
    let data = Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength)
    let extra: Record<string, string> = {}
    if (data.length + headerBytes(hdrs) + message.length > room) {
      const kept = Math.min(PREFIX_BYTES, Math.max(0, Math.floor(room / 4)))
      extra = {
        'Ben-Original-Bytes': String(data.length),
        'Ben-Original-Sha256': createHash('sha256').update(data).digest('hex'),
        'Ben-Kept-Bytes': String(Math.min(kept, data.length)),
      }
      for (const k of Object.keys(hdrs)) if (hdrs[k].length > 1024) hdrs[k] = `${hdrs[k].slice(0, 1024)}… (${hdrs[k].length} chars)`
      message = `${message.slice(0, 4096)} (the original is ${data.length} bytes, SHA-256 ${extra['Ben-Original-Sha256']}; too large for a dead letter, the first ${extra['Ben-Kept-Bytes']} bytes are kept)`
      data = data.subarray(0, kept)
      Object.assign(hdrs, extra)
    }
    const rec = {
      id,
      stage: this.stage,
      reason: rejection.reason,
      message,
      subject: input.subject,
      headers: hdrs,
      data,
      stream: input.stream ?? null,
      seq: input.seq ?? 0,
    }
    const enc = encodeRecord(this.codec.registry, 'ben.DeadLetter', rec)
    const h = natsHeaders()
    h.set(Header.MsgId, id)
    h.set(Header.Schema, enc.schema)
    h.set(Header.SchemaFp, enc.fingerprint)
    h.set('Ben-Reason', rejection.reason)
    for (const [k, v] of Object.entries(extra)) h.set(k, v)
    const outcome = await new Promise<PublishOutcome>((resolve) => void this.publisher.sendRaw(this.subjects.dlq(this.stage), enc.data, h, id, resolve))
    return outcome.status !== 'failed'
  }
}

/** Room kept for the record's own fields and NATS headers when sizing a dead letter. */
const DLQ_OVERHEAD = 16 * 1024
/** Bytes of an oversized input kept in its dead letter. */
const PREFIX_BYTES = 64 * 1024

function headerBytes(h: Record<string, string>): number {
  let n = 0
  for (const k in h) n += k.length + h[k].length + 4
  return n
}
