/**
 * The keyword prefilter: one Aho-Corasick automaton over every detector's literal keywords
 * (lower-cased), compiled once per manifest. One pass over a text's characters says which
 * detectors could match, so a clean line costs one table lookup per character however many
 * provider formats the manifest holds; only the detectors whose keyword occurs run their regex.
 *
 * The automaton is a full DFA over ASCII 32-126 folded to lower case (other characters reset to
 * the root). Each state carries the set of detectors whose keyword ends there (bitset words).
 */

const ASCII_LO = 32
const ASCII_HI = 126
const K = ASCII_HI - ASCII_LO + 2 // + class 0 for every other character

/** char code → class (0 = not in any keyword alphabet position). Letters fold to lower case. */
const CLASS = (() => {
  const t = new Uint8Array(128)
  for (let c = ASCII_LO; c <= ASCII_HI; c++) {
    const lower = c >= 65 && c <= 90 ? c + 32 : c
    t[c] = lower - ASCII_LO + 1
  }
  return t
})()

export interface KeywordIndex {
  /** Number of Int32 words in a hit set. */
  readonly words: number
  /** delta[state * K + class] → next state * K (pre-multiplied: one add per character). */
  readonly delta: Int32Array
  /** hasHits[state * K] is 1 where some keyword ends in that state. */
  readonly hasHits: Uint8Array
  /** hitStart[state]..hitStart[state+1]: indices into hitWord/hitMask (bits to OR into the hit set). */
  readonly hitStart: Int32Array
  readonly hitWord: Int32Array
  readonly hitMask: Int32Array
}

/** Builds the automaton: `keywords[d]` are detector d's literals (any case; folded to lower). */
export function buildKeywordIndex(keywords: ReadonlyArray<readonly string[]>): KeywordIndex {
  const words = Math.max(1, Math.ceil(keywords.length / 32))
  // trie
  const next: Array<Map<number, number>> = [new Map()]
  const out: Array<Set<number>> = [new Set()]
  keywords.forEach((list, d) => {
    for (const kw of list) {
      const w = kw.toLowerCase()
      if (w.length === 0) continue
      let s = 0
      for (let i = 0; i < w.length; i++) {
        const code = w.charCodeAt(i)
        const cls = code < 128 ? CLASS[code] : 0
        if (cls === 0) break // a keyword with a non-ASCII character: its ASCII prefix is the (looser) keyword
        let t = next[s].get(cls)
        if (t === undefined) {
          t = next.length
          next.push(new Map())
          out.push(new Set())
          next[s].set(cls, t)
        }
        s = t
      }
      out[s].add(d)
    }
  })
  const n = next.length
  const delta = new Int32Array(n * K)
  const fail = new Int32Array(n)
  // breadth-first: failure links and the full transition table
  const queue: number[] = []
  for (let c = 0; c < K; c++) {
    const t = next[0].get(c)
    if (t !== undefined) {
      delta[c] = t
      fail[t] = 0
      queue.push(t)
    }
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const s = queue[qi]
    for (const d of out[fail[s]]) out[s].add(d)
    for (let c = 0; c < K; c++) {
      const t = next[s].get(c)
      if (t !== undefined) {
        fail[t] = delta[fail[s] * K + c]
        delta[s * K + c] = t
        queue.push(t)
      } else delta[s * K + c] = delta[fail[s] * K + c]
    }
  }
  const hitStart = new Int32Array(n + 1)
  const hw: number[] = []
  const hm: number[] = []
  for (let s = 0; s < n; s++) {
    hitStart[s] = hw.length
    const byWord = new Map<number, number>()
    for (const d of out[s]) byWord.set(d >>> 5, (byWord.get(d >>> 5) ?? 0) | (1 << (d & 31)))
    for (const [w, m] of byWord) {
      hw.push(w)
      hm.push(m)
    }
  }
  hitStart[n] = hw.length
  const hasHits = new Uint8Array(n * K)
  for (let st = 0; st < n; st++) if (hitStart[st + 1] > hitStart[st]) hasHits[st * K] = 1
  for (let i = 0; i < delta.length; i++) delta[i] *= K
  return { words, delta, hasHits, hitStart, hitWord: Int32Array.from(hw), hitMask: Int32Array.from(hm) }
}

/**
 * Sets in `hits` (zeroed by the caller) the bit of every detector one of whose keywords occurs
 * in `text`; returns whether any did (most lines hold none: the caller then skips the bit sets).
 */
export function scanKeywords(ix: KeywordIndex, text: string, hits: Int32Array): boolean {
  const delta = ix.delta
  const out = ix.hasHits
  let s = 0
  let any = false
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i)
    s = delta[s + (c < 128 ? CLASS[c] : 0)]
    if (out[s] !== 0) {
      any = true
      const st = s / K
      for (let j = ix.hitStart[st], b = ix.hitStart[st + 1]; j < b; j++) hits[ix.hitWord[j]] |= ix.hitMask[j]
    }
  }
  return any
}
