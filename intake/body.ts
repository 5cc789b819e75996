import type { IncomingMessage } from 'node:http'
import { gunzip, inflate } from 'node:zlib'
import { DropReason } from './errors.js'

export type BodyResult = { ok: true; body: Buffer } | { ok: false; status: number; reason: DropReason; message: string }

/**
 * Reads a request body up to `maxBytes` on the wire and `maxDecoded` once decompressed
 * (Content-Encoding gzip, deflate or none): a bigger one is refused 413 without reading it
 * all into memory; a corrupt one 400.
 */
export async function readBody(req: IncomingMessage, maxBytes: number, maxDecoded: number): Promise<BodyResult> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity')
    .toLowerCase()
    .trim()
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate' && encoding !== '') {
    return { ok: false, status: 415, reason: DropReason.UnsupportedMedia, message: `Content-Encoding '${encoding}' is not supported: send gzip, deflate or none` }
  }
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (declared > maxBytes)
    return { ok: false, status: 413, reason: DropReason.TooLarge, message: `request body of ${declared} bytes is over the limit of ${maxBytes}; send smaller batches` }
  const chunks: Buffer[] = []
  let size = 0
  // Not destroyed on an early return: the rest of a refused body is drained (`drain`), not reset.
  for await (const c of req.iterator({ destroyOnReturn: false })) {
    size += (c as Buffer).length
    if (size > maxBytes) return { ok: false, status: 413, reason: DropReason.TooLarge, message: `request body is over the limit of ${maxBytes} bytes; send smaller batches` }
    chunks.push(c as Buffer)
  }
  const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)
  if (encoding !== 'gzip' && encoding !== 'deflate') {
    return raw.length > maxDecoded
      ? { ok: false, status: 413, reason: DropReason.TooLarge, message: `request body is over the limit of ${maxDecoded} bytes` }
      : { ok: true, body: raw }
  }
  return new Promise<BodyResult>((resolve) => {
    ;(encoding === 'gzip' ? gunzip : inflate)(raw, { maxOutputLength: maxDecoded }, (err, out) => {
      if (!err) return resolve({ ok: true, body: out })
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test(err.message)) {
        return resolve({ ok: false, status: 413, reason: DropReason.TooLarge, message: `request body decompresses to more than ${maxDecoded} bytes; send smaller batches` })
      }
      resolve({ ok: false, status: 400, reason: DropReason.Malformed, message: `request body is not valid ${encoding}: ${err.message}` })
    })
  })
}

/** Drains and discards what is left of a refused request (so keep-alive clients stay in sync), bounded. */
export function discard(req: IncomingMessage): void {
  req.resume()
}

/**
 * Reads and discards the rest of a refused request body, up to `limit` bytes: true when the
 * body ended (the connection can serve the next request), false when more than `limit` was left
 * (answer with `Connection: close`). Answering before the client has sent its body and then
 * closing makes the kernel reset the connection, and a client still writing may see the reset
 * instead of the answer; draining first lets it read the refusal.
 */
export function drain(req: IncomingMessage, limit: number): Promise<boolean> {
  if (req.complete) return Promise.resolve(true)
  return new Promise((resolve) => {
    let left = limit
    const done = (ended: boolean) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onError)
      if (!ended) req.pause()
      resolve(ended)
    }
    const onData = (c: Buffer) => {
      left -= c.length
      if (left < 0) done(false)
    }
    const onEnd = () => done(true)
    const onError = () => done(false)
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onError)
    req.once('aborted', onError)
    req.resume()
  })
}
