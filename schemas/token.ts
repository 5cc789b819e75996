/** A subject token: non-empty, no `.`, `*`, `>`, whitespace or control characters. */
export const TOKEN_RE = /^[^.*>\s\u0000-\u001f\u007f]{1,128}$/
export const isToken = (s: string): boolean => TOKEN_RE.test(s)
