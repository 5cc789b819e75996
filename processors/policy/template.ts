import { canonicalJson } from '../../schemas/index.js'
import type { FactView } from './view.js'

/**
 * String templates over the fact a rule matched: `{source}`, `{kind}`, `{lane}`, `{severity}`,
 * `{metric}`, `{detector}` (the top fired detector, or the alert rule), `{rule}` (alert rule),
 * `{score}`, `{value}` and `{labels.<key>}` (anomaly labels or alert attrs). `{{` and `}}` are
 * literal braces. Templates always produce strings; numbers in arguments are written as numbers.
 * Compiled once when the pack loads; rendering is a concatenation.
 */
export const TEMPLATE_VARS = ['source', 'kind', 'lane', 'severity', 'metric', 'detector', 'rule', 'score', 'value'] as const
export type TemplateVar = (typeof TEMPLATE_VARS)[number]

type Part = { readonly lit: string } | { readonly v: TemplateVar } | { readonly label: string }

export interface Template {
  readonly text: string
  readonly parts: readonly Part[]
}

const VAR_SET: ReadonlySet<string> = new Set(TEMPLATE_VARS)

export function compileTemplate(text: string): { ok: true; value: Template } | { ok: false; error: string } {
  const parts: Part[] = []
  let lit = ''
  let i = 0
  while (i < text.length) {
    const ch = text[i]
    if (ch === '{' && text[i + 1] === '{') {
      lit += '{'
      i += 2
    } else if (ch === '}' && text[i + 1] === '}') {
      lit += '}'
      i += 2
    } else if (ch === '{') {
      const end = text.indexOf('}', i)
      if (end < 0) return { ok: false, error: `template '${text}' has an unclosed '{' (write '{{' for a literal brace)` }
      const name = text.slice(i + 1, end)
      if (lit) parts.push({ lit })
      lit = ''
      if (name.startsWith('labels.') && name.length > 7) parts.push({ label: name.slice(7) })
      else if (VAR_SET.has(name)) parts.push({ v: name as TemplateVar })
      else return { ok: false, error: `template '${text}' refers to unknown '{${name}}': use one of ${TEMPLATE_VARS.map((v) => `{${v}}`).join(', ')} or {labels.<key>}` }
      i = end + 1
    } else if (ch === '}') {
      return { ok: false, error: `template '${text}' has a stray '}' (write '}}' for a literal brace)` }
    } else {
      lit += ch
      i++
    }
  }
  if (lit || parts.length === 0) parts.push({ lit })
  return { ok: true, value: { text, parts } }
}

function varValue(v: TemplateVar, f: FactView): string | undefined {
  switch (v) {
    case 'source':
      return f.source
    case 'kind':
      return f.kind
    case 'lane':
      return f.lane
    case 'severity':
      return f.severity
    case 'metric':
      return f.metric ?? undefined
    case 'detector':
      return f.detectors[0]
    case 'rule':
      return f.rule ?? undefined
    case 'score':
      return f.score === null ? undefined : String(f.score)
    case 'value':
      return f.value === null ? undefined : String(f.value)
    default: {
      const never: never = v
      return never
    }
  }
}

/** Renders a template; undefined when a referenced field is missing (see `missingIn`). */
export function render(t: Template, f: FactView): string | undefined {
  const ps = t.parts
  if (ps.length === 1 && 'lit' in ps[0]) return ps[0].lit
  let out = ''
  for (const p of ps) {
    const s = 'lit' in p ? p.lit : 'v' in p ? varValue(p.v, f) : Object.hasOwn(f.labels, p.label) ? f.labels[p.label] : undefined
    if (s === undefined) return undefined
    out += s
  }
  return out
}

/** The first placeholder the fact cannot fill, for the explanation of a failed render. */
export function missingIn(t: Template, f: FactView): string {
  for (const p of t.parts) {
    if ('v' in p && varValue(p.v, f) === undefined) return `{${p.v}}`
    if ('label' in p && !Object.hasOwn(f.labels, p.label)) return `{labels.${p.label}}`
  }
  return '(none)'
}

/**
 * Verb arguments with templated string values, compiled to the canonical JSON skeleton with
 * slots: rendering splices JSON-escaped strings into fixed pieces, so the result is canonical
 * JSON without building or sorting an object per fact.
 */
export interface ArgsTemplate {
  /** Canonical JSON when nothing is templated. */
  readonly constant: string | null
  /** pieces[0] slot[0] pieces[1] slot[1] … pieces[n]. */
  readonly pieces: readonly string[]
  readonly slots: readonly Template[]
}

const SLOT = '@@ben:slot:'

export function compileArgs(args: Readonly<Record<string, unknown>>): { ok: true; value: ArgsTemplate } | { ok: false; error: string } {
  const templates: Template[] = []
  let error: string | undefined
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (v.includes(SLOT)) error ??= `argument value '${v}' contains the reserved text '${SLOT}'`
      if (!v.includes('{') && !v.includes('}')) return v
      const t = compileTemplate(v)
      if (!t.ok) {
        error ??= t.error
        return v
      }
      if (t.value.parts.length === 1 && 'lit' in t.value.parts[0]) return t.value.parts[0].lit
      templates.push(t.value)
      return `${SLOT}${templates.length - 1}@@`
    }
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  const skeleton = canonicalJson(walk(args))
  if (error) return { ok: false, error }
  if (templates.length === 0) return { ok: true, value: { constant: skeleton, pieces: [skeleton], slots: [] } }
  const split = skeleton.split(/"@@ben:slot:(\d+)@@"/)
  const pieces: string[] = []
  const slots: Template[] = []
  for (let i = 0; i < split.length; i++) {
    if (i % 2 === 0) pieces.push(split[i])
    else slots.push(templates[Number(split[i])])
  }
  return { ok: true, value: { constant: null, pieces, slots } }
}

/** Canonical JSON of the arguments for this fact; undefined when a slot cannot be filled. */
export function renderArgs(a: ArgsTemplate, f: FactView): string | undefined {
  if (a.constant !== null) return a.constant
  let out = a.pieces[0]
  for (let i = 0; i < a.slots.length; i++) {
    const s = render(a.slots[i], f)
    if (s === undefined) return undefined
    out += JSON.stringify(s) + a.pieces[i + 1]
  }
  return out
}

/** The first placeholder in the arguments the fact cannot fill. */
export function missingInArgs(a: ArgsTemplate, f: FactView): string {
  for (const s of a.slots) if (render(s, f) === undefined) return missingIn(s, f)
  return '(none)'
}
