/**
 * Parquet through parquet-wasm. Reading: the footer is checked here first (parquet-footer.ts), then
 * the file is decoded one row group at a time in a thread of its own (parquet-decoder.ts), as a
 * stream of record batches from a lazy file-backed Blob, never read whole. Writing (results, from
 * lastmile's own chunk files): from a stream of record batches, on this thread.
 */
import { type FileHandle, open } from 'node:fs/promises'
import { basename } from 'node:path'
import { tableFromIPC } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { type Block, type BlockSource, ChunkedReader } from './chunker.js'
import { TABLE_OPTIONS, tableColumns, tableSchema } from './columns.js'
import { PARQUET_WASM, ParquetDecoder } from './parquet-decoder.js'
import { type FooterInfo, readFooter } from './parquet-footer.js'
import { checkPages } from './parquet-pages.js'
import type { ChunkReader, SchemaField } from './types.js'

// parquet-wasm's `node` build is CommonJS inside a type:module package and fails to load on
// Node 20; the ESM build works once given its wasm (synchronously, once per process).
pw.initSync({ module: PARQUET_WASM })

/** Rows per record batch decoded from a row group: bounds memory inside large row groups... */
const BATCH_ROWS = 65_536
/** ...and bytes (uncompressed, as the footer claims them) per batch, for wide rows. */
const BATCH_BYTES = 64 * 2 ** 20

/**
 * Opens a Parquet file for reading in chunks; refuses a file whose footer does not hold up. Each
 * row group's page headers are checked when it is about to be read.
 */
export async function openParquet(path: string): Promise<ChunkReader> {
  const name = basename(path)
  const handle = await open(path, 'r')
  let decoder: ParquetDecoder | undefined
  try {
    const size = (await handle.stat()).size
    const footer = await readFooter(handle, size, name)
    const opened = await ParquetDecoder.open(path, name)
    decoder = opened.decoder
    const schema = tableSchema(tableFromIPC(opened.schema))
    return new ChunkedReader(new ParquetSource({ handle, decoder, footer, size, name, schema }))
  } catch (e) {
    await decoder?.close()
    await handle.close()
    throw e
  }
}

interface Opened {
  handle: FileHandle
  decoder: ParquetDecoder
  footer: FooterInfo
  size: number
  name: string
  schema: SchemaField[]
}

class ParquetSource implements BlockSource {
  readonly schema: SchemaField[]
  readonly totalRows: number
  readonly #handle: FileHandle
  readonly #decoder: ParquetDecoder
  readonly #name: string
  readonly #size: number
  readonly #groups: FooterInfo['groups']
  #group = 0
  /** Rows of the current group already read or skipped. */
  #inGroup = 0
  #row = 0
  #doneBytes = 0
  #reading = false
  #ahead: Promise<Uint8Array | undefined> | undefined

  constructor(o: Opened) {
    this.#handle = o.handle
    this.#decoder = o.decoder
    this.#name = o.name
    this.#size = o.size
    this.#groups = o.footer.groups
    this.totalRows = o.footer.rows
    this.schema = o.schema
  }

  progress(): { bytesRead: number; bytesTotal: number } {
    const group = this.#groups[this.#group]
    if (!group) return { bytesRead: this.#size, bytesTotal: this.#size }
    const partial = group.rows > 0 ? (group.compressedBytes * this.#inGroup) / group.rows : 0
    return { bytesRead: Math.round(this.#doneBytes + partial), bytesTotal: this.#size }
  }

  /** Whole row groups are passed over unread; the rest of the rows become the offset into the next group. */
  async skipWhole(rows: number): Promise<number> {
    let left = rows
    for (let g = this.#groups[this.#group]; g && g.rows <= left; g = this.#groups[this.#group]) {
      left -= g.rows
      this.#doneBytes += g.compressedBytes
      this.#group++
    }
    if (this.#group < this.#groups.length) this.#inGroup = left
    else left = 0
    this.#row = rows - left
    return rows
  }

  async read(): Promise<Block | undefined> {
    for (let g = this.#groups[this.#group]; g; g = this.#groups[this.#group]) {
      if (!this.#reading) {
        await checkPages(this.#handle, g.chunks, this.#group, this.#name)
        const perRow = g.rows > 0 ? g.uncompressedBytes / g.rows : 0
        const batchRows = Math.max(1, Math.min(BATCH_ROWS, Math.floor(BATCH_BYTES / Math.max(1, perRow))))
        await this.#decoder.start(this.#group, this.#inGroup, batchRows)
        this.#reading = true
        this.#row += this.#inGroup
      }
      const ipc = await (this.#ahead ?? this.#decoder.next())
      // Ask for the next batch now: the thread decodes it while this one is converted and scored.
      this.#ahead = ipc ? this.#decoder.next() : undefined
      this.#ahead?.catch(() => undefined) // its failure is thrown where it is awaited, if it ever is
      if (!ipc) {
        this.#reading = false
        this.#doneBytes += g.compressedBytes
        this.#group++
        this.#inGroup = 0
        continue
      }
      const table = tableFromIPC(ipc, TABLE_OPTIONS)
      const block = { firstRow: this.#row, rows: table.numRows, columns: tableColumns(table), errors: [] }
      this.#row += table.numRows
      this.#inGroup += table.numRows
      return block
    }
    return undefined
  }

  async close(): Promise<void> {
    await this.#decoder.close()
    await this.#handle.close().catch(() => undefined) // a second close() finds it closed
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
  // It reads the first batch before answering: a failure there surfaces here, as its own error.
  const bytes = (
    await pw.transformParquetStream(batches, writerProperties(rowGroupRows)).catch((e: unknown) => {
      throw failure ?? e
    })
  ).getReader()
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
