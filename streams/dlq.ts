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

  /** Resolves true once the dead letter is stored (so the original may be acked). */
  async send(input: RejectedInput, rejection: Rejection): Promise<boolean> {
    factsRejected.inc({ stage: this.stage, reason: rejection.reason })
    const hdrs: Record<string, string> = {}
    if (input.headers) for (const k of input.headers.keys()) hdrs[k] = input.headers.get(k)
    const id = hashId('dlq', this.stage, input.stream ?? '', String(input.seq ?? 0), input.subject, Buffer.from(input.data).toString('base64'))
    const rec = {
      id,
      stage: this.stage,
      reason: rejection.reason,
      message: rejection.message,
      subject: input.subject,
      headers: hdrs,
      data: Buffer.from(input.data),
      stream: input.stream ?? null,
      seq: input.seq ?? 0,
    }
    const enc = encodeRecord(this.codec.registry, 'ben.DeadLetter', rec)
    const h = natsHeaders()
    h.set(Header.MsgId, id)
    h.set(Header.Schema, enc.schema)
    h.set(Header.SchemaFp, enc.fingerprint)
    h.set('Ben-Reason', rejection.reason)
    const outcome = await new Promise<PublishOutcome>((resolve) => void this.publisher.sendRaw(this.subjects.dlq(this.stage), enc.data, h, id, resolve))
    return outcome.status !== 'failed'
  }
}
