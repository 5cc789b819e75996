import { Feature } from './detectors.js'

/**
 * One pass over the text's char codes that says which detectors could possibly match, so a
 * clean line costs one loop plus the few detectors its shape calls for, instead of every
 * detector's regex.
 *
 * Each bit is a necessary condition of its personal-data detector's pattern (see detectors.ts):
 * an email needs '@'; a card a run of 13+ digits with single space/dash separators; an IPv6
 * address '::' or six colons in a hex run; a phone number '+' and a digit, a 3-3-4 shape or a
 * 9-digit run starting with a trunk 0 or '(' (keyword-led phone numbers are gated by the
 * keyword automaton, keywords.ts). A false positive only costs time; a false negative would be
 * a leak, so every condition is looser than its pattern.
 * The detectors test proves it: with and without the prefilter, findings are identical.
 */

// Feature bits as plain module constants: the loop below runs for every scanned value.
const F_AT = Feature.At
const F_COLONS = Feature.Colons
const F_DOT_QUAD = Feature.DotQuad
const F_CARD_RUN = Feature.CardRun
const F_PHONE_RUN = Feature.PhoneRun
const F_IBAN = Feature.Iban
const F_ALWAYS = Feature.Always

export function features(s: string): number {
  let f = F_ALWAYS
  const n = s.length
  let dotQuads = 0
  let cardRun = 0
  let phoneRun = 0
  let phoneSeps = 0
  let hexColons = 0 // colons in the current run of [0-9A-Fa-f:]
  let dg = 0 // current digit group, the two before it, and separators since (NANP 3-3-4 shape)
  let g1 = 0
  let g2 = 0
  let gs = 0
  let prev = 0
  let prev2 = 0
  let natStart = false // the digit run started with a trunk 0 or after '(' (national phone shapes)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    const lower = c | 32
    if (lower >= 97 && lower <= 122) {
      cardRun = 0
      phoneRun = 0
      dg = g1 = g2 = gs = 0
      if (lower > 102) hexColons = 0
    } else {
      if (c >= 48 && c <= 57) {
        if (++cardRun >= 13) f |= F_CARD_RUN
        if (phoneRun === 0) natStart = c === 48 || prev === 40
        if (++phoneRun >= 9 && natStart) f |= F_PHONE_RUN
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
  return f
}
