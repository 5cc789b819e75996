import { describe, expect, it } from 'vitest'
import { parsePubAck } from './publisher.js'

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
