/**
 * The inference log's heavy steps, apart from its bookkeeping so that they can run in a worker
 * thread: encoding buffered requests into frames, rolling an open segment into an Arrow file, and
 * reading and encoding a page of a query.
 * A request of a 60 MiB body takes a few hundred ms to encode and a 64 MiB segment as long to roll:
 * the server runs these in its body workers (src/formats/decode-pool.ts), not on the event loop.
 */
import { readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Table } from '@uwdata/flechette'
import type { AnyTensor } from '../engine/tensor.js'
import { decodeFrames, encodeFrames, mergeTables, schemaKeys } from './frames.js'
import { type LogPage, type LogPageTask, logPage } from './log-query.js'
import type { InferenceRecord } from './record.js'
import { writeSegmentTable } from './segment.js'

/** One frame ready to append, and its columns' type keys (a frame that disagrees rolls the segment first). */
export interface EncodedFrame {
  bytes: Uint8Array
  keys: Array<[string, string]>
}

/** An open segment to roll: its folder, id and file, and the file's size. */
export interface OpenSegment {
  dir: string
  openId: number
  openPath: string
  bytes: number
}

/** Where the log's heavy steps run. */
export interface LogWork {
  /** Frames of `records` (the log's own copies: the work may take their buffers). */
  frames(records: InferenceRecord[]): Promise<EncodedFrame[]>
  /** Turn an open segment into an Arrow segment, then delete the open file. */
  roll(segment: OpenSegment): Promise<void>
  /** Read and encode a page of a query (see log-query.ts). */
  page(task: LogPageTask): Promise<LogPage>
}

/** Bytes of tensor data in `groups` (a string counts 8, a reference). */
export function tensorBytes(...groups: Array<Record<string, AnyTensor>>): number {
  let n = 0
  for (const g of groups) {
    for (const t of Object.values(g)) n += t.dtype === 'string' ? t.data.length * 8 : t.data.byteLength
  }
  return n
}

/** Frames of `records` with their type keys. */
export function encodeFrameBytes(records: InferenceRecord[]): EncodedFrame[] {
  return encodeFrames(records).map((f) => ({ bytes: f.bytes, keys: [...schemaKeys(f.table)] }))
}

/** Oldest and newest row time of the tables. */
function timeRange(tables: Table[]): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const t of tables) {
    for (const v of t.getChild('time') ?? []) {
      const n = Number(v)
      if (n < min) min = n
      if (n > max) max = n
    }
  }
  return { min, max }
}

/** Turn an open segment into an Arrow segment (its frames' batches as they are), then delete the open file. */
export async function rollSegment(p: OpenSegment): Promise<void> {
  const { tables } = decodeFrames(await readFile(p.openPath).catch(() => new Uint8Array(0)))
  if (tables.length > 0) {
    const { min, max } = timeRange(tables)
    const name = `seg-${p.openId}-${min}-${max}.arrow`
    const tmp = join(p.dir, `${name}.tmp`)
    await writeSegmentTable(tmp, mergeTables(tables))
    await rename(tmp, join(p.dir, name))
  }
  await rm(p.openPath, { force: true })
}

/** The log's steps on the calling thread. */
export const INLINE_LOG_WORK: LogWork = {
  frames: async (records) => encodeFrameBytes(records),
  roll: rollSegment,
  page: logPage,
}
