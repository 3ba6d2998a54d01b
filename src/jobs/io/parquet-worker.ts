/**
 * A Parquet decoder thread (see parquet-decoder.ts): parquet-wasm on one file, driven one request
 * at a time. A WebAssembly trap (a panic or a failed allocation on a hostile file) is thrown where
 * nothing can catch it, from a callback of parquet-wasm's own: here it ends this thread only, and
 * takes its WebAssembly memory with it. It loads nothing but parquet-wasm, so it starts quickly.
 */
import { openAsBlob } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import * as pw from 'parquet-wasm/esm'
import { Wasm } from './wasm.js'

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
}

const port = parentPort
if (!port) throw new Error('parquet-worker.js runs as a worker thread (see parquet-decoder.ts)')
pw.initSync({ module: (workerData as DecoderData).module })

let file: pw.ParquetFile | undefined
let batches: ReadableStreamDefaultReader<pw.RecordBatch> | undefined

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
      const trap = e instanceof Wasm.RuntimeError
      const message = e instanceof Error ? e.message : String(e)
      port.postMessage({ ok: false, error: trap ? `the decoder trapped (${message})` : message })
      // After a trap the instance's state is undefined (a borrow left open, an allocator mid-way):
      // end the thread rather than decode anything more with it.
      if (trap) process.exit(1)
    },
  )
})
