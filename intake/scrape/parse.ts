/**
 * The Prometheus text exposition format (0.0.4, what every exporter serves and OpenMetrics
 * text close enough: `# EOF` is ignored) → samples. Pure and total: a line it cannot read is
 * reported with its number, the lines around it still count.
 */

export interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
  /** Epoch ms when the exposition gave one. */
  readonly ts: number | undefined
}

export interface Parsed {
  readonly samples: Sample[]
  readonly errors: Array<{ line: number; message: string }>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/

function parseValue(s: string): number {
  switch (s) {
    case '+Inf':
    case 'Inf':
      return Infinity
    case '-Inf':
      return -Infinity
    case 'NaN':
      return NaN
    default:
      return s.trim() === '' ? NaN : Number(s)
  }
}

export function parseExposition(text: string): Parsed {
  const samples: Sample[] = []
  const errors: Parsed['errors'] = []
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim()
    if (line === '' || line.startsWith('#')) continue
    const r = parseLine(line)
    if (typeof r === 'string') errors.push({ line: n + 1, message: r })
    else samples.push(r)
  }
  return { samples, errors }
}

function parseLine(line: string): Sample | string {
  const m = NAME.exec(line)
  if (!m) return `no metric name at '${line.slice(0, 40)}'`
  const name = m[0]
  let i = name.length
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++
      if (line[i] === '}') {
        i++
        break
      }
      const l = LABEL.exec(line.slice(i))
      if (!l) return `${name}: bad label name at column ${i + 1}`
      i += l[0].length
      while (line[i] === ' ') i++
      if (line[i] !== '=' || line[i + 1] !== '"') return `${name}: label ${l[0]} is not name="value"`
      i += 2
      let v = ''
      for (;;) {
        if (i >= line.length) return `${name}: label ${l[0]} value is not closed`
        const c = line[i]
        if (c === '\\') {
          const e = line[i + 1]
          v += e === 'n' ? '\n' : e
          i += 2
        } else if (c === '"') {
          i++
          break
        } else {
          v += c
          i++
        }
      }
      labels[l[0]] = v
    }
  }
  const rest = line.slice(i).trim().split(/\s+/)
  if (rest.length < 1 || rest[0] === '') return `${name}: no value`
  const value = parseValue(rest[0])
  if (Number.isNaN(value) && rest[0] !== 'NaN') return `${name}: value '${rest[0]}' is not a number`
  let ts: number | undefined
  if (rest.length > 1) {
    ts = Number(rest[1])
    if (!Number.isFinite(ts)) return `${name}: timestamp '${rest[1]}' is not a number`
  }
  return { name, labels, value, ts }
}
