/**
 * Turns a format's own units (Parquet record batches, Arrow record batches, runs of text rows) into
 * chunks of exactly `maxRows` rows, so chunk boundaries depend only on the file and `maxRows`.
 */
import { concatValues, sliceValues } from './columns.js'
import type { ChunkReader, ColumnChunk, RowError, SchemaField } from './types.js'

/** Consecutive rows from a source: columns in schema order; errors carry input row numbers. */
export interface Block {
  firstRow: number
  rows: number
  columns: ArrayLike<unknown>[]
  errors: RowError[]
  /** The block holds as much memory as a chunk may: the chunk ends with it, short of maxRows. */
  full?: boolean
}

/** What each format implements; {@link ChunkedReader} does the chunking. */
export interface BlockSource {
  readonly schema: SchemaField[]
  readonly totalRows: number | undefined
  progress(): { bytesRead: number; bytesTotal: number }
  /** Skips whole units (row groups, batches) that fit in `rows` without decoding them; returns the rows skipped. */
  skipWhole(rows: number): Promise<number>
  /** The next block of rows, undefined at the end; `wantRows` is a hint, blocks may be larger or smaller. */
  read(wantRows: number): Promise<Block | undefined>
  close(): Promise<void>
}

/** A {@link ChunkReader} over any {@link BlockSource}. */
export class ChunkedReader implements ChunkReader {
  readonly #source: BlockSource
  #pending: Block[] = []
  #pendingRows = 0
  #started = false
  #ended = false

  constructor(source: BlockSource) {
    this.#source = source
  }

  get schema(): SchemaField[] {
    return this.#source.schema
  }

  get totalRows(): number | undefined {
    return this.#source.totalRows
  }

  progress(): { bytesRead: number; bytesTotal: number } {
    return this.#source.progress()
  }

  async skip(rows: number): Promise<void> {
    if (this.#started) throw new Error('skip() must come before the first next()')
    checkCount('rows', rows, 0)
    this.#started = true
    let left = rows - (await this.#source.skipWhole(rows))
    while (left > 0) {
      const block = await this.#source.read(left)
      if (!block) {
        this.#ended = true
        break
      }
      const take = Math.min(left, block.rows)
      // Stryker disable next-line ConditionalExpression,EqualityOperator: at take === block.rows the slice has no rows, which #push drops
      if (take < block.rows) this.#push(sliceBlock(block, take, block.rows))
      left -= take
    }
  }

  async next(maxRows: number): Promise<ColumnChunk | undefined> {
    checkCount('maxRows', maxRows, 1)
    this.#started = true
    let full = false
    while (this.#pendingRows < maxRows && !this.#ended && !full) {
      const block = await this.#source.read(maxRows - this.#pendingRows)
      if (block) this.#push(block)
      else this.#ended = true
      full = block?.full === true
    }
    const rows = Math.min(maxRows, this.#pendingRows)
    if (rows === 0) return undefined
    const parts: Block[] = []
    let taken = 0
    while (taken < rows) {
      const block = this.#pending.shift() as Block
      const take = Math.min(rows - taken, block.rows)
      if (take < block.rows) this.#pending.unshift(sliceBlock(block, take, block.rows))
      parts.push(take < block.rows ? sliceBlock(block, 0, take) : block)
      taken += take
    }
    this.#pendingRows -= rows
    const columns: Record<string, ArrayLike<unknown>> = {}
    this.schema.forEach((f, i) => {
      columns[f.name] = concatValues(parts.map((p) => p.columns[i] as ArrayLike<unknown>))
    })
    return { firstRow: (parts[0] as Block).firstRow, rows, columns, errors: parts.flatMap((p) => p.errors) }
  }

  async close(): Promise<void> {
    // Stryker disable next-line ArrayDeclaration: with #pendingRows 0 and #ended set, next() never reads #pending again (this frees it)
    this.#pending = []
    this.#pendingRows = 0 // with the rows it dropped: a next() after close answers undefined
    this.#ended = true
    await this.#source.close()
  }

  #push(block: Block): void {
    if (block.rows === 0) return
    this.#pending.push(block)
    this.#pendingRows += block.rows
  }
}

/** Rows [start, end) of a block (relative to the block). */
function sliceBlock(block: Block, start: number, end: number): Block {
  const first = block.firstRow + start
  return {
    firstRow: first,
    rows: end - start,
    columns: block.columns.map((c) => sliceValues(c, start, end)),
    errors: block.errors.filter((e) => e.row >= first && e.row < block.firstRow + end),
  }
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`)
}
