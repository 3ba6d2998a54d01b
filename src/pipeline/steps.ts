/**
 * Pipeline steps: the JSON a pipeline version holds, parsed with errors that name the step, and
 * compiled into stages. A `pre` step applies to the inputs of the model step right after it and a
 * `post` step to the outputs of the model step right before it; every other step is a stage.
 *
 * Step types: {"model": "name[:version]"}, {"models": [...]}, {"pre": {...}}, {"post": {...}},
 * {"validations": {"name": "expr"}}, {"random_split": {"weights": [[90, "a"], [10, "b"]],
 * "hash_key"?, "seed"?}}, {"key_split": {"key", "options": {"eu": "m_eu"}, "default": "m"}},
 * {"shadow": {"champion": "a", "challengers": ["b"]}}.
 */
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'
import { compileValidations, type Validation } from './expr.js'
import { type PostSpec, type PreSpec, postSpecSchema, preSpecSchema } from './spec.js'

const MODEL_REF = /^[A-Za-z0-9_.-]+(:[1-9][0-9]*)?$/
const modelRef = z.string().regex(MODEL_REF, 'a model name, optionally with ":<version>"')

const STEP_SCHEMAS = {
  model: modelRef,
  models: z.array(modelRef).min(2, 'list at least two models'),
  pre: preSpecSchema,
  post: postSpecSchema,
  validations: z
    .record(z.string().min(1), z.string().min(1))
    .refine((v) => Object.keys(v).length > 0, 'name at least one validation'),
  random_split: z
    .object({
      weights: z.array(z.tuple([z.number().positive(), modelRef])).min(1),
      /** Request column whose value picks the model (the same key always lands on the same model). */
      hash_key: z.string().min(1).optional(),
      /** Seed for rows without a hash key (reproducible draws). */
      seed: z.number().int().optional(),
    })
    .strict(),
  key_split: z.object({ key: z.string().min(1), options: z.record(z.string(), modelRef), default: modelRef }).strict(),
  shadow: z.object({ champion: modelRef, challengers: z.array(modelRef).min(1) }).strict(),
} as const

type StepKind = keyof typeof STEP_SCHEMAS
export type Step = { [K in StepKind]: { [P in K]: z.infer<(typeof STEP_SCHEMAS)[K]> } }[StepKind]

/** Parse a pipeline's step list; throws InvalidConfigError naming the step and the problem. */
export function parseSteps(raw: unknown): Step[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new InvalidConfigError('"steps" must be a non-empty array of steps')
  return raw.map((step, i) => {
    if (typeof step !== 'object' || step === null || Array.isArray(step) || Object.keys(step).length !== 1) {
      throw new InvalidConfigError(
        `step ${i}: a step is an object with exactly one of ${Object.keys(STEP_SCHEMAS).join(', ')}`,
      )
    }
    const [kind, body] = Object.entries(step)[0] as [string, unknown]
    // Own keys only: a step {"constructor": …} or {"toString": …} is an unknown type, not Object.prototype's.
    const schema = Object.hasOwn(STEP_SCHEMAS, kind) ? STEP_SCHEMAS[kind as StepKind] : undefined
    if (!schema)
      throw new InvalidConfigError(
        `step ${i}: unknown step type '${kind}'; expected one of ${Object.keys(STEP_SCHEMAS).join(', ')}`,
      )
    const parsed = schema.safeParse(body)
    if (!parsed.success) {
      const issues = parsed.error.issues.map((x) => `${[kind, ...x.path].join('.')}: ${x.message}`).join('; ')
      throw new InvalidConfigError(`step ${i} (${kind}): ${issues}`)
    }
    return { [kind]: parsed.data } as Step
  })
}

/** Every model reference in the steps, in order of appearance. */
export function modelRefs(steps: Step[]): string[] {
  const refs: string[] = []
  for (const s of steps) {
    if ('model' in s) refs.push(s.model)
    else if ('models' in s) refs.push(...s.models)
    else if ('random_split' in s) refs.push(...s.random_split.weights.map(([, m]) => m))
    else if ('key_split' in s) refs.push(...Object.values(s.key_split.options), s.key_split.default)
    else if ('shadow' in s) refs.push(s.shadow.champion, ...s.shadow.challengers)
  }
  return [...new Set(refs)]
}

/** Replace every model reference with `map(ref)` (e.g. pin "m" to "m:3"). */
export function mapModelRefs(steps: Step[], map: (ref: string) => string): Step[] {
  return steps.map((s): Step => {
    if ('model' in s) return { model: map(s.model) }
    if ('models' in s) return { models: s.models.map(map) }
    if ('random_split' in s)
      return { random_split: { ...s.random_split, weights: s.random_split.weights.map(([w, m]) => [w, map(m)]) } }
    if ('key_split' in s) {
      const k = s.key_split
      return {
        key_split: {
          ...k,
          options: Object.fromEntries(Object.entries(k.options).map(([o, m]) => [o, map(m)])),
          default: map(k.default),
        },
      }
    }
    if ('shadow' in s)
      return { shadow: { champion: map(s.shadow.champion), challengers: s.shadow.challengers.map(map) } }
    return s
  })
}

export type Routing =
  | { kind: 'single'; model: string }
  | { kind: 'multi'; models: string[] }
  | { kind: 'random'; weights: Array<[number, string]>; hashKey?: string; seed?: number }
  | { kind: 'key'; key: string; options: Record<string, string>; fallback: string }
  | { kind: 'shadow'; champion: string; challengers: string[] }

export type Stage =
  | { kind: 'models'; routing: Routing; pre?: PreSpec; post?: PostSpec; step: number }
  | { kind: 'validations'; validations: Validation[]; step: number }

/** Attach pre/post steps to their model step; compile validations. */
export function compileStages(steps: Step[]): Stage[] {
  const stages: Stage[] = []
  let pendingPre: { spec: PreSpec; step: number } | undefined
  steps.forEach((s, i) => {
    if ('pre' in s) {
      if (pendingPre)
        throw new InvalidConfigError(
          `step ${i} (pre): step ${pendingPre.step} is already a pre step for the next model step`,
        )
      pendingPre = { spec: s.pre, step: i }
      return
    }
    if ('post' in s) {
      // The step before must be a model step. (A second post step fails here too: the step before
      // it is a post step, which is no stage.)
      const last = stages[stages.length - 1]
      if (last?.kind !== 'models' || last.step !== i - 1) {
        throw new InvalidConfigError(`step ${i} (post): a post step must directly follow a model step`)
      }
      last.post = s.post
      return
    }
    if ('validations' in s) {
      if (pendingPre)
        throw new InvalidConfigError(`step ${pendingPre.step} (pre): a pre step must directly precede a model step`)
      stages.push({ kind: 'validations', validations: compileValidations(s.validations), step: i })
      return
    }
    const routing: Routing =
      'model' in s
        ? { kind: 'single', model: s.model }
        : 'models' in s
          ? { kind: 'multi', models: s.models }
          : 'random_split' in s
            ? {
                kind: 'random',
                weights: s.random_split.weights,
                ...(s.random_split.hash_key ? { hashKey: s.random_split.hash_key } : {}),
                ...(s.random_split.seed !== undefined ? { seed: s.random_split.seed } : {}),
              }
            : 'key_split' in s
              ? { kind: 'key', key: s.key_split.key, options: s.key_split.options, fallback: s.key_split.default }
              : { kind: 'shadow', champion: s.shadow.champion, challengers: s.shadow.challengers }
    stages.push({ kind: 'models', routing, ...(pendingPre ? { pre: pendingPre.spec } : {}), step: i })
    pendingPre = undefined
  })
  if (pendingPre)
    throw new InvalidConfigError(`step ${pendingPre.step} (pre): a pre step must directly precede a model step`)
  if (!stages.some((s) => s.kind === 'models')) throw new InvalidConfigError('a pipeline needs at least one model step')
  return stages
}

/** Models a routing runs. */
export function routingModels(r: Routing): string[] {
  switch (r.kind) {
    case 'single':
      return [r.model]
    case 'multi':
      return r.models
    case 'random':
      return [...new Set(r.weights.map(([, m]) => m))]
    case 'key':
      return [...new Set([...Object.values(r.options), r.fallback])]
    case 'shadow':
      return [r.champion, ...r.challengers]
  }
}
