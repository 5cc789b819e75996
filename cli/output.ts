import Table from 'cli-table3'

export type Format = 'table' | 'json'

export function parseFormat(v: string): Format {
  if (v !== 'table' && v !== 'json') throw new CliError(`--format must be 'table' or 'json', not '${v}'`)
  return v
}

/** JSON for people and machines: bytes as base64, bigint as number text. */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_k, v) => {
      if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64')
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
      if (typeof v === 'bigint') return v.toString()
      return v
    },
    space,
  )
}

export function printTable(head: string[], rows: unknown[][], out: NodeJS.WritableStream = process.stdout): void {
  const t = new Table({ head, style: { head: [], border: [] } })
  for (const r of rows) t.push(r.map(cell))
  out.write(t.toString() + '\n')
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'object') return toJson(v)
  const s = String(v)
  return s.length > 120 ? s.slice(0, 117) + '...' : s
}

/** An expected failure: printed as one line, no stack, non-zero exit. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`
}
