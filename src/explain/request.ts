/**
 * What an explanation request may say and what it will cost: the schema, the model rows it will
 * evaluate (known from its parameters before anything runs), and the limits on both, checked
 * before it starts — a request over a limit is a 400 naming the parameter or the cost and the
 * setting, answered in milliseconds instead of running for hours.
 */
import { z } from 'zod'
import { InvalidRequestError } from '../errors.js'

const record = z.record(z.string(), z.unknown())

/** Absolute ceilings of the schema; the settings ({@link ExplainLimits}) are what bound a request. */
export const explainSchema = z
  .object({
    method: z.enum(['permutation', 'pdp', 'kernel_shap', 'permutation_shap']),
    /** Reference rows (global methods: the data; local methods: the background), or a range of the log. */
    reference: z.union([
      z.object({ rows: z.array(record).min(1) }).strict(),
      z
        .object({
          start: z.union([z.string(), z.number()]),
          end: z.union([z.string(), z.number()]),
          limit: z.number().int().min(1).default(1000),
        })
        .strict(),
    ]),
    /** Rows to explain (local methods). */
    rows: z.array(record).min(1).optional(),
    /** The output value explained, `out.<output>[i]` (default: the first numeric output's first value). */
    output: z.string().optional(),
    /** Names for the flattened input features (default `x[0]`, `x[1]`, …). */
    feature_names: z.array(z.string()).optional(),
    /** Features to explain (names or indices; default all). Global methods only. */
    features: z
      .array(z.union([z.string(), z.number().int().min(0)]))
      .min(1)
      .optional(),
    /** Permutation importance: targets per reference row and the metric; without them, mean |Δ output|. */
    target: z.array(z.number()).optional(),
    metric: z.enum(['mae', 'mse', 'rmse', 'r2', 'accuracy']).optional(),
    repeats: z.number().int().min(1).default(5),
    /** Partial dependence: grid points, bounds per feature (default: the reference's min and max), ICE rows kept. */
    num_points: z.number().int().min(2).default(20),
    bounds: z.record(z.string(), z.tuple([z.number(), z.number()])).default({}),
    ice_rows: z.number().int().min(0).max(1000).default(20),
    /** KernelSHAP coalitions (default 2·M + 2048, as SHAP), background rows sampled from the reference. */
    nsamples: z.number().int().min(2).optional(),
    background: z.number().int().min(1).default(100),
    /** Permutation SHAP: random feature orders (each also run reversed). */
    npermutations: z.number().int().min(1).default(10),
    seed: z.number().int().default(0),
  })
  .strict()

export type ExplainRequest = z.infer<typeof explainSchema>

/** How much one explanation may ask for (the `explain` settings). */
export interface ExplainLimits {
  maxModelRows: number
  maxReferenceRows: number
  maxRows: number
  maxBackground: number
  maxNsamples: number
  maxPermutations: number
  maxRepeats: number
  maxNumPoints: number
}

/** KernelSHAP's default coalition budget for F features, as the `shap` package. */
export const defaultNsamples = (F: number) => 2 * F + 2048

/**
 * Model rows an explanation evaluates at most, for `n` reference rows and `F` features, and the
 * formula in words (for messages). Exact for permutation importance and PDP; for SHAP an upper
 * bound (features equal to every background value leave the computation; KernelSHAP uses at most
 * 2^F − 2 coalitions).
 */
export function explainCost(req: ExplainRequest, n: number, F: number): { rows: number; formula: string } {
  const features = req.features?.length ?? F
  const nb = Math.min(n, req.background)
  const rows = req.rows?.length ?? 0
  switch (req.method) {
    case 'permutation':
      return {
        rows: n * (1 + features * req.repeats),
        formula: `reference rows ${n} × (1 + features ${features} × repeats ${req.repeats})`,
      }
    case 'pdp':
      return {
        rows: features * req.num_points * n,
        formula: `features ${features} × num_points ${req.num_points} × reference rows ${n}`,
      }
    case 'kernel_shap': {
      const K = Math.max(0, Math.min(req.nsamples ?? defaultNsamples(F), 2 ** F - 2))
      return {
        rows: nb + rows * (1 + K * nb),
        formula: `background ${nb} + rows ${rows} × (1 + coalitions ${K} × background ${nb})`,
      }
    }
    case 'permutation_shap':
      return {
        rows: nb + rows * (1 + 2 * req.npermutations * (F + 1) * nb),
        formula: `background ${nb} + rows ${rows} × (1 + 2 × npermutations ${req.npermutations} × (features ${F} + 1) × background ${nb})`,
      }
  }
}

/** Reference rows the request will use at most: those it gives, or the limit of its log range. */
function referenceRows(req: ExplainRequest): number {
  return 'rows' in req.reference ? req.reference.rows.length : req.reference.limit
}

/**
 * Refuse a request over a limit before it starts: each parameter against its setting, then the
 * model rows it would cost for `F` features (with the most reference rows it may use).
 */
export function checkExplainLimits(req: ExplainRequest, F: number, limits: ExplainLimits): void {
  const n = referenceRows(req)
  const local = req.method === 'kernel_shap' || req.method === 'permutation_shap'
  // Only what the method uses: a permutation importance request is not refused for its `background` default.
  const params: Array<[string, number | undefined, number, string]> = [
    ['rows' in req.reference ? 'reference.rows' : 'reference.limit', n, limits.maxReferenceRows, 'REFERENCE_ROWS'],
    ['rows', local ? req.rows?.length : undefined, limits.maxRows, 'ROWS'],
    ['background', local ? req.background : undefined, limits.maxBackground, 'BACKGROUND'],
    ['nsamples', req.method === 'kernel_shap' ? req.nsamples : undefined, limits.maxNsamples, 'NSAMPLES'],
    [
      'npermutations',
      req.method === 'permutation_shap' ? req.npermutations : undefined,
      limits.maxPermutations,
      'PERMUTATIONS',
    ],
    ['repeats', req.method === 'permutation' ? req.repeats : undefined, limits.maxRepeats, 'REPEATS'],
    ['num_points', req.method === 'pdp' ? req.num_points : undefined, limits.maxNumPoints, 'NUM_POINTS'],
  ]
  for (const [name, value, limit, setting] of params) {
    if (value !== undefined && value > limit) {
      throw new InvalidRequestError(`${name} is ${value}; at most ${limit} (LASTMILE_EXPLAIN_MAX_${setting})`, {
        parameter: name,
        value,
        limit,
      })
    }
  }
  const cost = explainCost(req, n, F)
  if (cost.rows > limits.maxModelRows) {
    throw new InvalidRequestError(
      `${req.method} would evaluate ${cost.rows} model rows (${cost.formula}); at most ${limits.maxModelRows} (LASTMILE_EXPLAIN_MAX_MODEL_ROWS): lower those parameters`,
      { model_rows: cost.rows, limit: limits.maxModelRows },
    )
  }
}
