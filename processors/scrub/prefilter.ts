import { Feature } from './detectors.js'

/**
 * One pass over the text's char codes that says which detectors could possibly match, so a
 * clean line costs one loop plus the few detectors its shape calls for, instead of every
 * detector's regex.
 *
 * Each bit is a necessary condition of its detector's pattern (see detectors.ts): an email
 * needs '@'; a card a run of 13+ digits with single space/dash separators; an AWS key id a run
 * of 20 [A-Z0-9]; a JWT the literal 'eyJ'; an IPv6 address '::' or six colons in a hex run; a
 * credential, bearer token or keyword-led phone number one of its keywords as a word (words are
 * hashed into a small table, so a false hit only costs a regex run). A false positive only
 * costs time; a false negative would be a leak, so every condition is looser than its pattern.
 * The detectors test proves it: with and without the prefilter, findings are identical.
 */

const WORD_BITS = 4095
/** Lowercase word hash → feature bits. Collisions only make the prefilter looser. */
const WORDS = new Int32Array(WORD_BITS + 1)
const wordHash = (w: string): number => {
  let h = 0
  for (let i = 0; i < w.length; i++) h = (Math.imul(h, 31) + w.charCodeAt(i)) | 0
  return h & WORD_BITS
}
const KEYWORDS: ReadonlyArray<readonly [number, readonly string[]]> = [
  [Feature.PhoneWord, ['phone', 'tel', 'mobile', 'cell', 'fax', 'msisdn'].flatMap((w) => [w, `${w}no`, `${w}number`, `${w}num`])],
]
for (const [bit, words] of KEYWORDS) for (const w of words) WORDS[wordHash(w)] |= bit
const MAX_WORD = 12

// Feature bits as plain module constants: the loop below runs for every scanned value.
const F_AT = Feature.At
const F_COLONS = Feature.Colons
const F_DOT_QUAD = Feature.DotQuad
const F_CARD_RUN = Feature.CardRun
const F_PHONE_RUN = Feature.PhoneRun
const F_IBAN = Feature.Iban
const F_ALWAYS = Feature.Always
const F_PHONE_WORD = Feature.PhoneWord

export function features(s: string): number {
  let f = F_ALWAYS
  const n = s.length
  let dotQuads = 0
  let cardRun = 0
  let phoneRun = 0
  let phoneSeps = 0
  let hexColons = 0 // colons in the current run of [0-9A-Fa-f:]
  let wh = 0 // hash and length of the current word (letters only, lowercased)
  let wl = 0
  let dg = 0 // current digit group, the two before it, and separators since (NANP 3-3-4 shape)
  let g1 = 0
  let g2 = 0
  let gs = 0
  let prev = 0
  let prev2 = 0
  let words = 0
  let longDigits = false
  let natStart = false // the digit run started with a trunk 0 or after '(' (national phone shapes)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    const lower = c | 32
    if (lower >= 97 && lower <= 122) {
      wh = (Math.imul(wh, 31) + lower) | 0
      wl++
      cardRun = 0
      phoneRun = 0
      dg = g1 = g2 = gs = 0
      if (lower > 102) hexColons = 0
    } else {
      if (wl > 0) {
        if (wl <= MAX_WORD) words |= WORDS[wh & WORD_BITS]
        wh = 0
        wl = 0
      }
      if (c >= 48 && c <= 57) {
        if (++cardRun >= 13) f |= F_CARD_RUN
        if (phoneRun === 0) natStart = c === 48 || prev === 40
        if (++phoneRun >= 7) {
          longDigits = true
          if (natStart && phoneRun >= 9) f |= F_PHONE_RUN
        }
        phoneSeps = 0
        if (gs > 0) {
          if (gs <= 2) {
            g1 = g2
            g2 = dg
          } else g1 = g2 = 0
          dg = 0
          gs = 0
        }
        if (++dg === 4 && g2 === 3 && g1 === 3) f |= F_PHONE_RUN
        if (prev === 46 && prev2 >= 48 && prev2 <= 57 && ++dotQuads >= 3) f |= F_DOT_QUAD
        if (prev >= 65 && prev <= 90 && prev2 >= 65 && prev2 <= 90) f |= F_IBAN
      } else {
        // card numbers allow one ' ' or '-' between digits
        if (!((c === 32 || c === 45) && prev >= 48 && prev <= 57)) cardRun = 0
        // phone numbers allow up to three of ' ', '-', '.', '(', ')' between digits
        if (c === 32 || c === 45 || c === 46 || c === 40 || c === 41 || c === 47) {
          if (++phoneSeps > 3) phoneRun = 0
          gs++
        } else {
          phoneRun = 0
          dg = g1 = g2 = gs = 0
        }
        if (c === 58) {
          if (prev === 58 || ++hexColons >= 6) f |= F_COLONS
        } else hexColons = 0
        if (c === 64) f |= F_AT
        else if (c === 43) {
          // + followed by a digit: an international phone number may start here
          const d = i + 1 < n ? s.charCodeAt(i + 1) : 0
          if (d >= 48 && d <= 57) f |= F_PHONE_RUN
        }
      }
    }
    prev2 = prev
    prev = c
  }
  if (wl > 0 && wl <= MAX_WORD) words |= WORDS[wh & WORD_BITS]
  if (longDigits && (words & F_PHONE_WORD) !== 0) f |= F_PHONE_RUN
  return f
}
