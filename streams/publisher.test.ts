import { describe, expect, it } from 'vitest'
import { parsePubAck, replyToken } from './publisher.js'

const b = (s: string) => new TextEncoder().encode(s)

describe('parsePubAck', () => {
  it('reads the forms nats-server writes', () => {
    expect(parsePubAck(b('{"stream":"S", "seq":1}'))).toEqual({ seq: 1, duplicate: false })
    expect(parsePubAck(b('{"stream":"S", "seq":12345,"duplicate": true}'))).toEqual({ seq: 12345, duplicate: true })
    expect(parsePubAck(b('{"stream":"S","seq": 7,"duplicate":true}'))).toEqual({ seq: 7, duplicate: true })
    expect(parsePubAck(b('{"stream":"S","seq":7,"duplicate":false}'))).toEqual({ seq: 7, duplicate: false })
  })
  it('turns API errors and garbage into errors', () => {
    expect(parsePubAck(b('{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}')).error).toMatch(/maximum messages exceeded/)
    expect(parsePubAck(b('nonsense')).error).toMatch(/unreadable PubAck/)
  })
})

describe('replyToken', () => {
  const inbox = '_INBOX.Zq9'
  const asNatsJs = (subject: string) => ({ subject: 'not read', _msg: { subject: new TextEncoder().encode(subject) } })
  it("reads the token of a PubAck's subject from its bytes as from its text", () => {
    for (const t of [0, 7, 10, 4096, 123456789, Number.MAX_SAFE_INTEGER]) {
      expect(replyToken(asNatsJs(`${inbox}.${t}`), inbox.length + 1)).toBe(t)
      expect(replyToken({ subject: `${inbox}.${t}` }, inbox.length + 1)).toBe(t)
    }
  })
  it('gives NaN for a token that is not digits (no pending publish has it)', () => {
    for (const bad of [`${inbox}.`, `${inbox}.12a`, `${inbox}.-1`, `${inbox}.1.2`]) expect(replyToken(asNatsJs(bad), inbox.length + 1)).toBeNaN()
    expect(replyToken({ subject: `${inbox}.x` }, inbox.length + 1)).toBeNaN()
  })
})
