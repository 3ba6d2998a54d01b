/**
 * A Parquet decoder thread (see parquet-decoder.ts): parquet-wasm on one file, driven one request
 * at a time. A WebAssembly trap (a panic or a failed allocation on a hostile file) is thrown where
 * nothing can catch it, from a callback of parquet-wasm's own: here it ends this thread only, and
 * takes its WebAssembly memory with it.
 */

/** A request to the decoder thread; each gets one {@link DecoderReply}. */
export type DecoderRequest =
  | { op: 'open'; path: string }
  | { op: 'start'; group: number; offset: number; batchRows: number }
  | { op: 'next' }

/** The answer to a request: the schema (open), a record batch (next) or done, or the error it threw. */
export type DecoderReply = { ok: true; ipc?: Uint8Array; done?: boolean } | { ok: false; error: string }

/** What the thread is started with. */
export interface DecoderData {
  /** parquet-wasm's compiled module (instantiated afresh in each thread). */
  module: object
  /** parquet-wasm's ESM entry file. */
  entry: string
}

/**
 * The thread's program. It runs from its own source text (the same from the TypeScript sources
 * and from the build, and quick to start: nothing to load but parquet-wasm), so it must not refer
 * to anything outside itself: it takes what it needs with require().
 */
export function decoderThread(): void {
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads')
  const { openAsBlob } = require('node:fs') as typeof import('node:fs')
  const data = workerData as DecoderData
  const pw = require(data.entry) as typeof import('parquet-wasm/esm')
  const RuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly
    .RuntimeError
  const port = parentPort
  if (!port) throw new Error('the Parquet decoder runs as a worker thread (see parquet-decoder.ts)')
  pw.initSync({ module: data.module })

  let file: import('parquet-wasm/esm').ParquetFile | undefined
  let batches: ReadableStreamDefaultReader<import('parquet-wasm/esm').RecordBatch> | undefined

  async function answer(request: DecoderRequest): Promise<DecoderReply> {
    switch (request.op) {
      case 'open':
        file = await pw.ParquetFile.fromFile(await openAsBlob(request.path))
        return { ok: true, ipc: file.schema().intoIPCStream() }
      case 'start': {
        if (!file) throw new Error('no file is open')
        await batches?.cancel()
        const { group, offset, batchRows } = request
        const stream = await file.stream({ rowGroups: [group], batchSize: batchRows, offset })
        batches = stream.getReader() as typeof batches
        return { ok: true }
      }
      case 'next': {
        if (!batches) throw new Error('no row group is being read')
        const { value, done } = await batches.read()
        if (done) {
          batches = undefined
          return { ok: true, done: true }
        }
        return { ok: true, ipc: value.intoIPCStream() } // into: the batch is consumed (freed)
      }
    }
  }

  port.on('message', (request: DecoderRequest) => {
    answer(request).then(
      (reply) => port.postMessage(reply, reply.ok && reply.ipc ? [reply.ipc.buffer as ArrayBuffer] : []),
      (e: unknown) => {
        const trap = e instanceof RuntimeError
        const message = e instanceof Error ? e.message : String(e)
        port.postMessage({ ok: false, error: trap ? `the decoder trapped (${message})` : message })
        // After a trap the instance's state is undefined (a borrow left open, an allocator mid-way):
        // end the thread rather than decode anything more with it.
        if (trap) process.exit(1)
      },
    )
  })
}
