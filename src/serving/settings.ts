/**
 * A deployment's settings as a deploy request gives them: its dynamic batching and what it does
 * with non-finite inputs. Schemas only (zod, no runtime), so the registry's request schemas and
 * the wire schemas can share them without importing the batcher.
 */
import { z } from 'zod'

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

/** `refuse` (the default): a 400 naming the first non-finite value; `pass`: the model gets them as they are. */
export const NON_FINITE_POLICIES = ['refuse', 'pass'] as const
/** One of {@link NON_FINITE_POLICIES}. */
export type NonFinitePolicy = (typeof NON_FINITE_POLICIES)[number]
