/**
 * A deployment's settings as a deploy request gives them: its dynamic batching, its autoscaling,
 * its sessions' options and what it does with non-finite inputs. Schemas only (zod, no runtime), so the registry's request schemas and
 * the wire schemas can share them without importing the batcher.
 */
import { z } from 'zod'
import { GPU_PATH_CHOICES } from '../config-schema.js'
import { GRAPH_OPTIMIZATION_LEVELS } from '../engine/types.js'

/** A deployment's dynamic batching (src/serving/batcher.ts); the README's "Dynamic batching" table lists them. */
export const batchingSchema = z
  .object({
    /** Rows per batch at most. */
    max_batch_size: z.number().int().min(1).max(1_000_000).default(256),
    /** How long the oldest queued request may wait for others to join its batch, in ms; 0 = never wait. */
    max_queue_delay_ms: z.number().min(0).max(10_000).default(2),
    /** Batch sizes to dispatch at as soon as that many rows are queued (largest first). */
    preferred_batch_sizes: z.array(z.number().int().min(1)).default([]),
    /** Rows queued at most; beyond, requests are refused (HTTP 429 with Retry-After). */
    max_queue_size: z.number().int().min(1).max(100_000_000).default(65_536),
    /** A request not answered within this many ms fails with a timeout error. */
    timeout_ms: z.number().int().min(1).max(3_600_000).default(30_000),
  })
  .strict()

/** Batching settings with every default filled in. */
export type BatchingConfig = z.infer<typeof batchingSchema>

/**
 * A deployment's model sessions: onnxruntime's intra-op threads (the `cpu` backend; the web
 * backends run one thread) and its graph optimization level. What is left out takes the server's
 * setting (`LASTMILE_CPU_THREADS`) and `all`. Measured tuning (src/optimize/) recommends them.
 */
export const sessionSettingsSchema = z
  .object({
    /** Intra-op threads of each `cpu` session (ignored on `wasm` and `webgpu`). */
    threads: z.number().int().min(1).max(1024).optional(),
    /** onnxruntime's graph optimization level when it loads the models. */
    graph_optimization: z.enum(GRAPH_OPTIMIZATION_LEVELS).optional(),
    /** How the models run on `webgpu` (`auto` measures); the server's `gpu.path` when absent. */
    gpu_path: z.enum(GPU_PATH_CHOICES).optional(),
  })
  .strict()

/** A deployment's session settings. */
export type SessionSettings = z.infer<typeof sessionSettingsSchema>

/** `refuse` (the default): a 400 naming the first non-finite value; `pass`: the model gets them as they are. */
export const NON_FINITE_POLICIES = ['refuse', 'pass'] as const
/** One of {@link NON_FINITE_POLICIES}. */
export type NonFinitePolicy = (typeof NON_FINITE_POLICIES)[number]

/** Most replicas a deployment may have, fixed or autoscaled. */
export const MAX_REPLICAS = 64

/**
 * A deployment's autoscaling (src/serving/autoscaler.ts), Knative KPA style: the README's
 * "Autoscaling" section lists the fields, their defaults and Knative's.
 */
export const autoscalingSchema = z
  .object({
    /** Fewest replicas, whatever the load. */
    min_replicas: z.number().int().min(1).max(MAX_REPLICAS).default(1),
    /** Most replicas, whatever the load. */
    max_replicas: z.number().int().min(1).max(MAX_REPLICAS),
    /** Requests admitted and not yet answered that one replica is meant to hold. */
    target_in_flight: z.number().gt(0).max(100_000).default(8),
    /** The share of `target_in_flight` to aim at, leaving headroom for bursts. */
    target_utilization: z.number().gt(0).max(1).default(0.7),
    /** Seconds the stable average covers: every scale-down, and scale-ups outside panic. */
    stable_window_s: z.number().min(1).max(3600).default(60),
    /** Seconds the panic average covers: a burst this short can scale up (never down). */
    panic_window_s: z.number().min(1).max(3600).default(6),
    /** Panic when the panic average reaches this many times the current replicas' target. */
    panic_threshold: z.number().min(1).max(100).default(2),
    /** A scale-down waits until the lower count has been enough for this many seconds. */
    scale_down_delay_s: z.number().min(0).max(3600).default(0),
  })
  .strict()
  .refine((a) => a.min_replicas <= a.max_replicas, {
    message: 'min_replicas must not exceed max_replicas',
    path: ['min_replicas'],
  })
  .refine((a) => a.panic_window_s <= a.stable_window_s, {
    message: 'panic_window_s must not exceed stable_window_s',
    path: ['panic_window_s'],
  })

/** Autoscaling settings with every default filled in. */
export type AutoscalingConfig = z.infer<typeof autoscalingSchema>
