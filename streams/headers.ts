import type { MsgHdrs } from '@nats-io/nats-core'

/**
 * NATS headers as pre-encoded bytes. nats.js only calls `encode()` on the headers it is given
 * when publishing, so a fact's three headers are written as one small buffer instead of a
 * MsgHdrsImpl with its maps (measurably less garbage on the hot path).
 */
class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes
  }
}

/** A header block already encoded (`NATS/1.0\r\n…\r\n\r\n`), as nats.js takes headers. */
export function preEncodedHeaders(block: Uint8Array): MsgHdrs {
  return new EncodedHeaders(block) as unknown as MsgHdrs
}

/**
 * A header block (`NATS/1.0\r\n…\r\n\r\n`) with more lines (`Name: value\r\n`, latin1) added
 * before its closing empty line.
 */
export function withHeaderLines(block: Uint8Array, lines: string): Buffer {
  const keep = block.length - 2 // the block ends with an empty line: insert before it
  const out = Buffer.allocUnsafe(keep + lines.length + 2)
  out.set(block.subarray(0, keep), 0)
  out.write(lines, keep, 'latin1')
  out[out.length - 2] = 0x0d
  out[out.length - 1] = 0x0a
  return out
}
