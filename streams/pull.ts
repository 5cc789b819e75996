import { jetstream } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import type { StreamMessage } from './durable.js'

/** One delivery of a durable pull consumer as Ben's code sees it: where it sits, its bytes, and how to settle it. */
export interface PulledMessage extends StreamMessage {
  ack(): void
  /** Acks and waits for the server to confirm. */
  ackAck(): Promise<boolean>
  /** Asks for redelivery, after `delayMs` when given. */
  nak(delayMs?: number): void
  /** Never redelivered (a message that can never be handled). */
  term(): void
  /** Still working on it: restarts the ack wait. */
  working(): void
}

/** The messages of a durable pull consumer, pulled `maxMessages` at a time, until `stop()`. */
export interface Pull extends AsyncIterable<PulledMessage> {
  stop(): void
}

/** Pulls from an existing durable consumer (create it with `ensureDurable`). */
export async function pullDurable(nc: NatsConnection, stream: string, durable: string, opts: { readonly maxMessages: number }): Promise<Pull> {
  const consumer = await jetstream(nc).consumers.get(stream, durable)
  // Pulls again at once after a reconnect (see consumeFacts: unbound, a failed consumer info there waits 15–45 s).
  const messages = await consumer.consume({ max_messages: opts.maxMessages, bind: true })
  return { stop: () => messages.stop(), [Symbol.asyncIterator]: () => messages[Symbol.asyncIterator]() }
}
