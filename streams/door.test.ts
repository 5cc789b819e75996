/**
 * streams/ is the one door to JetStream (issue 12.5): nothing outside it imports the client
 * (dependency-cruiser), and what it hands out is Ben's own types, not the client's. This walks
 * the public API of streams/index.ts with the TypeScript checker (every export, the types of its
 * signatures, members and type arguments, through Ben's own types) and fails on any type declared
 * by @nats-io/jetstream, @nats-io/kv or @nats-io/obj. NatsConnection (@nats-io/nats-core) is the
 * connection every caller holds, and is allowed.
 */
import { dirname, join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { packageRoot } from '../schemas/index.js'

const CLIENT = /node_modules\/@nats-io\/(jetstream|kv|obj)\//

/** Where the public API of `entry` names a JetStream client type: `export › path › Type (file)`. */
export function clientTypesIn(entry: string): string[] {
  const config = ts.readConfigFile(join(packageRoot(), 'tsconfig.json'), ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, packageRoot())
  const program = ts.createProgram([entry], parsed.options)
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(entry)
  if (!source) throw new Error(`${entry} is not in the program`)
  const found: string[] = []
  const seen = new Set<ts.Type>()
  const ours = (d: ts.Declaration) => !d.getSourceFile().fileName.includes('/node_modules/')
  const clientDecl = (s: ts.Symbol | undefined) => s?.declarations?.find((d) => CLIENT.test(d.getSourceFile().fileName))
  const visibleMember = (p: ts.Symbol) =>
    !p.getName().startsWith('#') && !(p.declarations ?? []).some((d) => ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected))

  const visitSignature = (sig: ts.Signature, path: string) => {
    for (const p of sig.getParameters()) visitType(checker.getTypeOfSymbol(p), `${path}(${p.getName()})`)
    visitType(sig.getReturnType(), `${path}()`)
  }
  const visitType = (type: ts.Type, path: string): void => {
    if (seen.has(type)) return
    seen.add(type)
    for (const s of [type.aliasSymbol, type.getSymbol()]) {
      const d = clientDecl(s)
      if (d) {
        found.push(`${path} › ${s!.getName()} (${relative(packageRoot(), d.getSourceFile().fileName)})`)
        return
      }
    }
    for (const a of type.aliasTypeArguments ?? []) visitType(a, `${path}<>`)
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference)
      for (const a of checker.getTypeArguments(type as ts.TypeReference)) visitType(a, `${path}<>`)
    if (type.isUnionOrIntersection()) for (const t of type.types) visitType(t, path)
    // Members only of Ben's own types (and anonymous ones): a library type other than the
    // client's (Promise, Date, NatsConnection...) is a leaf.
    const decls = type.getSymbol()?.declarations ?? []
    if (decls.length > 0 && !decls.some(ours)) return
    for (const sig of type.getCallSignatures()) visitSignature(sig, path)
    for (const sig of type.getConstructSignatures())
      if (!(sig.declaration && ts.getCombinedModifierFlags(sig.declaration as ts.Declaration) & ts.ModifierFlags.Private)) visitSignature(sig, `new ${path}`)
    for (const p of checker.getPropertiesOfType(type)) if (visibleMember(p)) visitType(checker.getTypeOfSymbol(p), `${path}.${p.getName()}`)
  }

  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)) {
    const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const name = exported.getName()
    const d = clientDecl(s)
    if (d) {
      found.push(`${name} (${relative(packageRoot(), d.getSourceFile().fileName)})`)
      continue
    }
    if (s.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) visitType(checker.getDeclaredTypeOfSymbol(s), name)
    if (s.flags & ts.SymbolFlags.Value) visitType(checker.getTypeOfSymbol(s), name)
    if (s.flags & ts.SymbolFlags.Class) visitType(checker.getDeclaredTypeOfSymbol(s), name)
  }
  return found
}

describe('streams/ hands out Ben types only', () => {
  it('no export of streams/index.ts names a type of the JetStream, KV or object-store client', () => {
    const entry = join(dirname(new URL(import.meta.url).pathname), 'index.ts')
    expect(clientTypesIn(entry)).toEqual([])
  }, 120_000)
})
