/**
 * Parquet decoding in a thread of its own. parquet-wasm traps on many damaged files (77 of 200
 * random byte mutations of a small file did, in one test), and a trap surfaces as an uncaught
 * exception from inside its async machinery, which would end the server. Each open file gets a
 * decoder thread (parquet-worker.ts); a trap ends that thread, the read fails with the reason, and
 * the next file gets a fresh thread and a fresh WebAssembly instance.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Worker } from 'node:worker_threads'
import { InvalidRequestError } from '../../errors.js'
import { startWorker, workerModule } from '../../workers/start.js'
import type { DecoderData, DecoderReply, DecoderRequest } from './parquet-worker.js'
import { Wasm } from './wasm.js'

const resolve = createRequire(import.meta.url).resolve

/** parquet-wasm's module, compiled once; each thread (and the writer here) instantiates its own. */
export const PARQUET_WASM = new Wasm.Module(readFileSync(resolve('parquet-wasm/esm/parquet_wasm_bg.wasm')))

const ENTRY = workerModule('./parquet-worker.js', import.meta.url)
const THREAD: DecoderData = { module: PARQUET_WASM }

/** JavaScript heap of a decoder thread: it only passes record batches on (its WebAssembly memory is apart). */
const THREAD_HEAP_MB = 256
/** Opening reads the footer and the schema: longer than this is a hang, not work. */
const OPEN_DEADLINE_MS = 60_000
/**
 * Decoder threads alive at once (about 10 MiB each when idle, 40 reading a large row group): a
 * burst of uploads waits for a thread rather than starting one each. Running jobs hold one each.
 */
const MAX_THREADS = 16

let threads = 0
const waiting: Array<() => void> = []

async function acquireThread(): Promise<void> {
  if (threads < MAX_THREADS) threads++
  else await new Promise<void>((r) => waiting.push(r)) // handed over by releaseThread
}

function releaseThread(): void {
  const next = waiting.shift()
  if (next) next()
  else threads--
}

/** One file's decoder thread: requests go one at a time; any failure of the thread fails the file. */
export class ParquetDecoder {
  readonly #worker: Worker
  readonly #name: string
  #pending: { resolve(r: DecoderReply): void; reject(e: Error): void } | undefined
  #dead: Error | undefined
  #released = false

  private constructor(name: string) {
    this.#name = name
    this.#worker = startWorker(ENTRY, {
      workerData: THREAD,
      resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB },
    })
    this.#worker.on('message', (reply: DecoderReply) => {
      const p = this.#pending
      this.#pending = undefined
      p?.resolve(reply)
    })
    this.#worker.on('error', (e) => this.#fail(`the Parquet decoder failed on it (${e.message})`))
    this.#worker.on('exit', (code) => this.#fail(`the Parquet decoder stopped (exit code ${code})`))
  }

  /** Opens `path` in a new decoder thread; the schema comes back as an Arrow IPC stream. */
  static async open(path: string, name: string): Promise<{ decoder: ParquetDecoder; schema: Uint8Array }> {
    await acquireThread()
    let decoder: ParquetDecoder
    try {
      decoder = new ParquetDecoder(name)
    } catch (e) {
      releaseThread()
      throw e
    }
    const deadline = setTimeout(
      () => decoder.#fail(`reading its metadata took longer than ${OPEN_DEADLINE_MS / 1000} s`),
      OPEN_DEADLINE_MS,
    )
    try {
      const schema = (await decoder.#call({ op: 'open', path })) as Uint8Array
      return { decoder, schema }
    } catch (e) {
      await decoder.close()
      throw e
    } finally {
      clearTimeout(deadline)
    }
  }

  /** Begins reading row group `group` from its row `offset`, `batchRows` rows per batch. */
  async start(group: number, offset: number, batchRows: number): Promise<void> {
    await this.#call({ op: 'start', group, offset, batchRows })
  }

  /** The next record batch of the row group begun, as an Arrow IPC stream; undefined at its end. */
  async next(): Promise<Uint8Array | undefined> {
    return this.#call({ op: 'next' })
  }

  /** Ends the thread (and a request in progress); safe to call twice. */
  async close(): Promise<void> {
    this.#fail('the file was closed')
    await this.#worker.terminate()
    if (!this.#released) {
      this.#released = true
      releaseThread()
    }
  }

  async #call(request: DecoderRequest): Promise<Uint8Array | undefined> {
    if (this.#dead) throw this.#dead
    if (this.#pending) throw new Error('a Parquet decoder takes one request at a time')
    const reply = await new Promise<DecoderReply>((resolve, reject) => {
      this.#pending = { resolve, reject }
      this.#worker.postMessage(request)
    })
    if (!reply.ok) throw new InvalidRequestError(`'${this.#name}' cannot be read as Parquet: ${reply.error}`)
    return reply.done ? undefined : reply.ipc
  }

  #fail(why: string): void {
    this.#dead ??= new InvalidRequestError(`'${this.#name}' cannot be read as Parquet: ${why}`)
    const p = this.#pending
    this.#pending = undefined
    p?.reject(this.#dead)
  }
}
