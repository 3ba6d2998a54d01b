/**
 * The body of `POST …/pipelines/{name}/optimize`: the latency target, the load to measure under,
 * the grid's axes (each defaults to the whole axis), the search and the time budget.
 */
import { z } from 'zod'
import { GPU_PATH_CHOICES } from '../config-schema.js'
import { BACKENDS, GRAPH_OPTIMIZATION_LEVELS } from '../engine/types.js'

/** Most values one axis of the grid may list. */
const AXIS_VALUES = 64

const axis = <T extends z.ZodType>(values: T) => z.array(values).min(1).max(AXIS_VALUES)

export const optimizeRequestSchema = z
  .object({
    /** The p99 latency per request the recommendation must meet, in ms. */
    target_p99_ms: z.number().gt(0).max(600_000).default(100),
    /** Backends to measure; by default `cpu` and `wasm`, and `webgpu` on a hardware adapter or when deployed on it. */
    backends: axis(z.enum(BACKENDS)).optional(),
    /** `max_batch_size` values; 1, 2, 4, …, 256 by default. */
    batch_sizes: axis(z.number().int().min(1).max(65_536)).optional(),
    /** `max_queue_delay_ms` values; 0, 1, 2, 5, 10 by default. */
    queue_delays_ms: axis(z.number().min(0).max(10_000)).optional(),
    /** Intra-op threads of `cpu` sessions; 1 to the machine's cores by default. */
    threads: axis(z.number().int().min(1).max(1024)).optional(),
    /** Graph optimization levels; all four by default. */
    graph_optimizations: axis(z.enum(GRAPH_OPTIMIZATION_LEVELS)).optional(),
    /** How `webgpu` points run their models (`session.gpu_path`, never `auto`: each point names one); all three by default. */
    gpu_paths: axis(z.enum(GPU_PATH_CHOICES).exclude(['auto'])).optional(),
    /** Clients of the closed loop: each sends a request and the next when it is answered. */
    concurrency: z.number().int().min(1).max(1024).default(16),
    /** Rows per request. */
    rows_per_request: z.number().int().min(1).max(256).default(1),
    /** Where the rows come from: synthesized from the input schema (seeded), or the inference log (its last hour first). */
    rows: z.enum(['synthetic', 'log']).default('synthetic'),
    /** The seed of synthesized rows. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(1),
    /** `quick` (at most 10% of the grid) or `exhaustive` (every point, as long as the budget lasts). */
    search: z.enum(['quick', 'exhaustive']).default('quick'),
    /** The run's time budget in seconds; at most (and by default) the server's `LASTMILE_OPTIMIZE_MAX_SECONDS`. */
    budget_s: z.number().gt(0).optional(),
    /** One measuring window, in ms. */
    window_ms: z.number().int().min(20).max(10_000).default(250),
    /** Windows a point may take to become stable before its last three are taken as they are. */
    max_windows: z.number().int().min(3).max(100).default(10),
  })
  .strict()

/** A tuning request with its defaults filled in. */
export type OptimizeRequest = z.infer<typeof optimizeRequestSchema>
