/**
 * Names and ids of the inference log's segment files: `open-<id>.arrows` (the open one) and
 * `seg-<id>-<minTime>-<maxTime>.arrow` (rolled). Several processes may write one folder: each is a
 * {@link LogWriter} and owns the ids congruent to its index modulo {@link WRITER_STRIDE}.
 */

/** Which of `count` processes writing the log folder this one is (0 ≤ index < count). */
export interface LogWriter {
  index: number
  count: number
}

/** Segment ids are `n × WRITER_STRIDE + writer index`: room for this many writers. */
export const WRITER_STRIDE = 1024

/** The writer that owns segment `id`: its residue, or writer 0 when no writer of that index is left. */
export function segmentOwner(id: number, count: number): number {
  const residue = id % WRITER_STRIDE
  return residue < count ? residue : 0
}

/** The smallest id above every id in `known` that `writer` owns. */
export function nextSegmentId(known: readonly number[], writer: LogWriter): number {
  if (writer.count === 1) return Math.max(0, ...known) + 1 // one writer: ids count up as they always have
  const above = Math.max(0, ...known) + 1
  const base = above - (above % WRITER_STRIDE)
  const id = base + writer.index
  return id >= above ? id : id + WRITER_STRIDE
}

/** A rolled segment's file name: its id, then the times of its first and last rows. */
export const SEGMENT = /^seg-(\d+)-(\d+)-(\d+)\.arrow$/
/** An open segment's file name. */
export const OPEN = /^open-(\d+)\.arrows$/
export const openName = (id: number) => `open-${id}.arrows`

/** Ids drawn from a shared store's sequence start here (number 2^20, see PG migration 3): only they are shared. */
export const FIRST_SHARED_ID = 2 ** 30
