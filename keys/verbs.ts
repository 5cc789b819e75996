import { z } from 'zod'
import { refuse, VerifyReason, type VerifyError } from './errors.js'

/** Roles whose signatures a command can require. */
export const SIGNER_ROLES = ['issuer', 'operator'] as const
export type SignerRole = (typeof SIGNER_ROLES)[number]

export interface VerbSpec<A = unknown> {
  readonly name: string
  readonly description: string
  /** Validates the verb's arguments (the parsed JSON of `args`). */
  readonly args: z.ZodType<A>
  /**
   * Signatures every target requires for this verb whatever a pack says (the issuer's is
   * always required). Packs can add to this, never remove from it.
   */
  readonly signatures: readonly SignerRole[]
}

export type VerbRegistry = ReadonlyMap<string, VerbSpec>

export const defineVerb = <A>(spec: VerbSpec<A>): VerbSpec<A> => Object.freeze({ ...spec, signatures: Object.freeze([...spec.signatures]) })

export const SetModeArgs = z.strictObject({ mode: z.enum(['normal', 'degraded', 'maintenance'], { message: 'mode must be normal, degraded or maintenance' }) })
export const ThrottleJobArgs = z.strictObject({
  job: z.string().min(1, 'job cannot be empty').max(256),
  factor: z.number().gt(0, 'factor must be above 0').lte(1, 'factor must be at most 1 (1 = no throttling)'),
})
export const QuarantineArtifactArgs = z
  .strictObject({
    path: z.string().min(1).max(4096).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits')
      .optional(),
  })
  .refine((a) => a.path !== undefined || a.sha256 !== undefined, 'name the artifact by path or sha256 (or both)')

export const DEFAULT_VERBS: readonly VerbSpec[] = Object.freeze([
  defineVerb({ name: 'set_mode', description: "Switch the target's operating mode", args: SetModeArgs, signatures: [] }),
  defineVerb({ name: 'throttle_job', description: "Scale a job's CPU share by factor (0,1]", args: ThrottleJobArgs, signatures: [] }),
  defineVerb({ name: 'quarantine_artifact', description: 'Move an artifact out of reach, by path or sha256', args: QuarantineArtifactArgs, signatures: ['operator'] }),
])

/** A registry of verbs; later specs with the same name replace earlier ones. */
export function verbRegistry(specs: Iterable<VerbSpec> = DEFAULT_VERBS): VerbRegistry {
  const m = new Map<string, VerbSpec>()
  for (const s of specs) m.set(s.name, s)
  return m
}

let shared: VerbRegistry | undefined
export const defaultVerbs = (): VerbRegistry => (shared ??= verbRegistry())

/** Parses and validates a command's arguments (canonical JSON) for its verb. Never throws. */
export function parseArgs(registry: VerbRegistry, verb: string, args: string): { ok: true; value: unknown; spec: VerbSpec } | { ok: false; error: VerifyError } {
  const spec = registry.get(verb)
  if (!spec) return refuse(VerifyReason.UnknownVerb, `verb '${verb}' is not known here (known: ${[...registry.keys()].sort().join(', ')})`)
  let json: unknown
  try {
    json = JSON.parse(args)
  } catch (err) {
    return refuse(VerifyReason.BadArgs, `${verb} arguments are not JSON: ${(err as Error).message}`)
  }
  const p = spec.args.safeParse(json)
  if (!p.success) return refuse(VerifyReason.BadArgs, `${verb} arguments: ${p.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message}`).join('; ')}`)
  return { ok: true, value: p.data, spec }
}
