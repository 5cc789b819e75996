import type { NotifierConfig } from './config.js'
import { signature } from './format.js'

export type Delivery = { ok: true; attempts: number; status: number } | { ok: false; attempts: number; error: string }

/** Sends one notification: retried with exponential backoff (and jitter) on network errors, 5xx, 408 and 429; another 4xx is final. */
export async function deliver(c: NotifierConfig, body: string, id: string, opts: { signal?: AbortSignal; now?: () => number } = {}): Promise<Delivery> {
  const now = opts.now ?? Date.now
  let last = ''
  for (let attempt = 0; attempt <= c.retries; attempt++) {
    if (opts.signal?.aborted) return { ok: false, attempts: attempt, error: `stopped before delivery (${last || 'not tried'})` }
    if (attempt > 0) {
      const cap = Math.min(c.maxBackoffMs, c.backoffMs * 2 ** (attempt - 1))
      await sleep(cap / 2 + Math.random() * (cap / 2), opts.signal)
    }
    const ts = String(Math.floor(now() / 1000))
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'ben-notify', 'X-Ben-Notification-Id': id, 'X-Ben-Timestamp': ts }
    if (c.secret) headers['X-Ben-Signature'] = signature(c.secret, ts, body)
    try {
      const res = await fetch(c.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(c.timeoutMs), redirect: 'error' })
      await res.arrayBuffer().catch(() => undefined)
      if (res.ok) return { ok: true, attempts: attempt + 1, status: res.status }
      last = `HTTP ${res.status}`
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
        return { ok: false, attempts: attempt + 1, error: `${c.url} answered ${res.status}: not retried (a 4xx means the request itself is refused)` }
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } }
      last = e.cause?.code ?? e.cause?.message ?? e.message
    }
  }
  return { ok: false, attempts: c.retries + 1, error: `${c.url}: ${last} after ${c.retries + 1} attempts` }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t)
        resolve()
      },
      { once: true },
    )
  })
}
