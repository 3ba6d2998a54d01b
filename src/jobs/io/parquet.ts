/**
 * Parquet through parquet-wasm: read one row group at a time as a stream of record batches (the
 * file is a lazy file-backed Blob, never read whole), write from a stream of record batches.
 */
import { openAsBlob, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename } from 'node:path'
import { tableFromIPC } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { errorMessage, InvalidRequestError } from '../../errors.js'
import { type Block, type BlockSource, ChunkedReader } from './chunker.js'
import { tableColumns, tableSchema } from './columns.js'
import type { ChunkReader, SchemaField } from './types.js'

// parquet-wasm's `node` build is CommonJS inside a type:module package and fails to load on
// Node 20; the ESM build works once given its wasm bytes (synchronously, once per process).
pw.initSync({ module: readFileSync(createRequire(import.meta.url).resolve('parquet-wasm/esm/parquet_wasm_bg.wasm')) })

/** Rows per record batch decoded from a row group: bounds memory inside large row groups. */
const BATCH_ROWS = 65_536

/** Opens a Parquet file for reading in chunks. */
export async function openParquet(path: string): Promise<ChunkReader> {
  const blob = await openAsBlob(path)
  let file: pw.ParquetFile
  try {
    file = await pw.ParquetFile.fromFile(blob)
  } catch (e) {
    throw new InvalidRequestError(`'${basename(path)}' is not a Parquet file: ${errorMessage(e)}`)
  }
  try {
    return new ChunkedReader(new ParquetSource(file, blob.size))
  } catch (e) {
    file.free()
    throw e
  }
}

class ParquetSource implements BlockSource {
  readonly schema: SchemaField[]
  readonly totalRows: number
  readonly #file: pw.ParquetFile
  readonly #size: number
  readonly #groupRows: number[] = []
  readonly #groupBytes: number[] = []
  #group = 0
  /** Rows of the current group already read or skipped. */
  #inGroup = 0
  #row = 0
  #doneBytes = 0
  #batches: ReadableStreamDefaultReader<pw.RecordBatch> | undefined
  #closed = false

  constructor(file: pw.ParquetFile, size: number) {
    this.#file = file
    this.#size = size
    const meta = file.metadata()
    for (let i = 0; i < meta.numRowGroups(); i++) {
      const group = meta.rowGroup(i)
      this.#groupRows.push(group.numRows())
      this.#groupBytes.push(group.compressedSize())
      group.free()
    }
    const fileMeta = meta.fileMetadata()
    this.totalRows = fileMeta.numRows()
    fileMeta.free()
    meta.free()
    this.schema = tableSchema(tableFromIPC(file.schema().intoIPCStream()))
  }

  progress(): { bytesRead: number; bytesTotal: number } {
    if (this.#group >= this.#groupRows.length) return { bytesRead: this.#size, bytesTotal: this.#size }
    const rows = this.#groupRows[this.#group] ?? 0
    const partial = rows > 0 ? ((this.#groupBytes[this.#group] ?? 0) * this.#inGroup) / rows : 0
    return { bytesRead: Math.round(this.#doneBytes + partial), bytesTotal: this.#size }
  }

  /** Whole row groups are passed over unread; the rest of the rows become the offset into the next group. */
  async skipWhole(rows: number): Promise<number> {
    let left = rows
    while (this.#group < this.#groupRows.length && (this.#groupRows[this.#group] as number) <= left) {
      left -= this.#groupRows[this.#group] as number
      this.#doneBytes += this.#groupBytes[this.#group] as number
      this.#group++
    }
    if (this.#group < this.#groupRows.length) this.#inGroup = left
    else left = 0
    this.#row = rows - left
    return rows
  }

  async read(): Promise<Block | undefined> {
    while (this.#group < this.#groupRows.length) {
      if (!this.#batches) {
        const stream = await this.#file.stream({
          rowGroups: [this.#group],
          batchSize: BATCH_ROWS,
          offset: this.#inGroup,
        })
        this.#batches = stream.getReader() as ReadableStreamDefaultReader<pw.RecordBatch>
        this.#row += this.#inGroup
      }
      const { value, done } = await this.#batches.read()
      if (done) {
        this.#batches = undefined
        this.#doneBytes += this.#groupBytes[this.#group] as number
        this.#group++
        this.#inGroup = 0
        continue
      }
      const table = tableFromIPC(value.intoIPCStream())
      const block = { firstRow: this.#row, rows: table.numRows, columns: tableColumns(table), errors: [] }
      this.#row += table.numRows
      this.#inGroup += table.numRows
      return block
    }
    return undefined
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#batches?.cancel()
    this.#file.free()
  }
}

/**
 * Parquet bytes (ZSTD) of a sequence of Arrow IPC streams, one record batch stream at a time; each
 * input is pulled only when the writer wants more, so memory holds about one row group. At least
 * one of the streams must hold a record batch (parquet-wasm fails on none: see {@link emptyParquet}).
 */
export async function* parquetStream(ipcStreams: AsyncIterator<Uint8Array>, rowGroupRows: number) {
  // parquet-wasm ends its output quietly when its input fails: keep the failure to throw it here.
  let failure: unknown
  const batches = new ReadableStream<pw.RecordBatch>(
    {
      // Enqueue at least one batch per pull: a pull that enqueues nothing is not called again.
      async pull(controller) {
        try {
          for (;;) {
            const next = await ipcStreams.next()
            if (next.done) return controller.close()
            const table = pw.Table.fromIPCStream(next.value)
            const found = table.recordBatches()
            table.free()
            for (const batch of found) controller.enqueue(batch)
            if (found.length > 0) return
          }
        } catch (e) {
          failure = e
          controller.error(e)
        }
      },
    },
    { highWaterMark: 0 },
  )
  const bytes = (await pw.transformParquetStream(batches, writerProperties(rowGroupRows))).getReader()
  try {
    for (let r = await bytes.read(); !r.done; r = await bytes.read()) {
      if (failure) break
      yield r.value as Uint8Array
    }
  } catch (e) {
    throw failure ?? e
  } finally {
    // A consumer that stops early: stop pulling chunk files.
    await bytes.cancel().catch(() => undefined)
  }
  if (failure) throw failure
}

/** A Parquet file with the schema of `ipcStream` and no rows. */
export function emptyParquet(ipcStream: Uint8Array): Uint8Array {
  return pw.writeParquet(pw.Table.fromIPCStream(ipcStream), writerProperties(1))
}

function writerProperties(rowGroupRows: number): pw.WriterProperties {
  return new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD)
    .setMaxRowGroupSize(Math.max(1, rowGroupRows))
    .build()
}
