import { short } from './describe.js'

/** One plain-language sentence and the ids of the facts it rests on. */
export interface NarrativeSentence {
  readonly text: string
  readonly factIds: string[]
}

/** A list item or paragraph: sentences rendered together, then the union of their ids, cited compactly. */
export type Block = readonly NarrativeSentence[]

export interface Section {
  readonly heading: string
  /** `list`: one bullet per block; `text`: one paragraph per block. */
  readonly style: 'list' | 'text'
  readonly blocks: readonly Block[]
}

const SPECIAL = /[\\`*_[\]<>~&|#]/g
/** Escapes Markdown punctuation in free text and folds whitespace (facts may hold anything). */
export const escapeMd = (text: string): string =>
  text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(SPECIAL, (c) => `\\${c}`)

const MAX_CITED = 4

/** `[1a2b3c4d]`, `[1a2b3c4d, 5e6f7a8b]`, `[1a2b3c4d, … +3 more]`: first 8 characters of each id. */
export function cite(ids: readonly string[]): string {
  if (ids.length === 0) return ''
  const shown = ids.slice(0, MAX_CITED).map((id) => escapeMd(short(id)))
  const more = ids.length > MAX_CITED ? ` +${ids.length - MAX_CITED} more` : ''
  return `[${shown.join(', ')}${more}]`
}

/** Distinct ids in first-seen order. */
export function union(sentences: Block): string[] {
  const seen = new Set<string>()
  for (const s of sentences) for (const id of s.factIds) seen.add(id)
  return [...seen]
}

function blockLine(b: Block): string {
  const text = b.map((s) => escapeMd(s.text)).join(' ')
  const c = cite(union(b))
  return c ? `${text} ${c}` : text
}

/** Renders the title line and sections; empty sections are left out. Ends with one newline. */
export function renderMarkdown(title: string, sections: readonly Section[]): string {
  const out: string[] = [`# ${escapeMd(title)}`]
  for (const s of sections) {
    if (s.blocks.length === 0) continue
    out.push('')
    if (s.heading) out.push(`## ${escapeMd(s.heading)}`, '')
    if (s.style === 'list') for (const b of s.blocks) out.push(`- ${blockLine(b)}`)
    else out.push(s.blocks.map(blockLine).join('\n\n'))
  }
  return `${out.join('\n')}\n`
}
