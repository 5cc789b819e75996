/** A compiled name pattern: `*` any run of characters, `?` one character, the rest literal. */
export type NameTest = (name: string) => boolean

const ALWAYS: NameTest = () => true

/** Compiles a glob once, at config load. Absent or `*` matches everything. */
export function compileGlob(pattern: string | undefined): NameTest {
  if (pattern === undefined || pattern === '*') return ALWAYS
  if (!/[*?]/.test(pattern)) return (name) => name === pattern
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    's',
  )
  return (name) => re.test(name)
}
