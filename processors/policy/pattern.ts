/**
 * The two pattern languages a pack uses, compiled once to an anchored RegExp when the pack
 * loads (never per fact).
 *
 * - **glob** (sources, targets, verbs, detectors, metrics, label values): `*` matches any run of
 *   characters (including none and including `.`), `?` exactly one character, everything else
 *   is literal. `web-*` matches `web-3`; `cpu.*` matches `cpu.load`; `*` matches anything.
 * - **subject** (the `subject` condition): NATS wildcards over `.`-separated tokens: `*` is
 *   exactly one token, `>` one or more trailing tokens and only as the last token.
 *   `anomaly.critical.>` matches `anomaly.critical.web-3`.
 */
export interface Matcher {
  /** The pattern as written in the pack (for explanations). */
  readonly pattern: string
  test(value: string): boolean
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

class RegexMatcher implements Matcher {
  constructor(
    readonly pattern: string,
    private readonly re: RegExp,
  ) {}
  test(value: string): boolean {
    return this.re.test(value)
  }
}

class AnyMatcher implements Matcher {
  constructor(readonly pattern: string) {}
  test(): boolean {
    return true
  }
}

class ExactMatcher implements Matcher {
  constructor(readonly pattern: string) {}
  test(value: string): boolean {
    return value === this.pattern
  }
}

export function compileGlob(pattern: string): Matcher {
  if (pattern === '*') return new AnyMatcher(pattern)
  if (!/[*?]/.test(pattern)) return new ExactMatcher(pattern)
  let src = '^'
  for (const ch of pattern) src += ch === '*' ? '.*' : ch === '?' ? '.' : escape(ch)
  return new RegexMatcher(pattern, new RegExp(src + '$', 's'))
}

/** Compiles a NATS-style subject pattern, or says what is wrong with it. */
export function compileSubject(pattern: string): { ok: true; value: Matcher } | { ok: false; error: string } {
  const tokens = pattern.split('.')
  const parts: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (t === '') return { ok: false, error: `subject pattern '${pattern}' has an empty token (two dots, or a leading/trailing dot)` }
    if (t === '>') {
      if (i !== tokens.length - 1) return { ok: false, error: `subject pattern '${pattern}': '>' may only be the last token` }
      parts.push('[^.]+(?:\\.[^.]+)*')
    } else if (t === '*') {
      parts.push('[^.]+')
    } else if (/[*>]/.test(t)) {
      return { ok: false, error: `subject pattern '${pattern}': wildcards must be whole tokens ('*' or '>'), not part of '${t}'` }
    } else {
      parts.push(escape(t))
    }
  }
  return { ok: true, value: new RegexMatcher(pattern, new RegExp(`^${parts.join('\\.')}$`)) }
}

/** True when any matcher in the list accepts the value; returns the first that does. */
export function firstMatch(matchers: readonly Matcher[], value: string): Matcher | undefined {
  for (const m of matchers) if (m.test(value)) return m
  return undefined
}
