/**
 * A first load of an untrusted model in a child process, before the server's own process loads
 * it. Loading is not a passive parse: onnxruntime folds constant subgraphs at load, and a model of
 * a few hundred bytes can make it allocate gigabytes that way (one Tile node folds up to 1 GiB,
 * and nodes add up), while a crash in native code would take the whole server with it. The child
 * is watched: past a memory cap or a deadline it is killed, and the model is refused with a 400;
 * a child that dies on its own (a segfault, the kernel's OOM killer) refuses the model the same
 * way. Only a model whose trial load succeeded is loaded by the server, with the same options,
 * so it costs the server what it cost the child. Trials run one at a time.
 */
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { BackendUnavailableError, errorMessage, InvalidModelError } from '../errors.js'
import { cpuSessionOptions } from './backends.js'
import { loadError } from './ort-common.js'

export interface TrialLimits {
  /** Resident memory the child may reach (LASTMILE_MODEL_LOAD_MEMORY_BYTES). */
  memoryBytes: number
  /** Time the load may take (LASTMILE_MODEL_LOAD_TIMEOUT_MS). */
  timeoutMs: number
}

/** How often the child's resident memory is read (a fold writes ~1 GB in ~100 ms). */
const WATCH_MS = 20

const ORT_PATH = createRequire(import.meta.url).resolve('onnxruntime-node')

/** The child: read the model from stdin, create a session, report on stdout, exit. */
const CHILD = `
const ort = require(process.argv[1])
const chunks = []
process.stdin.on('data', (c) => chunks.push(c))
process.stdin.on('end', () => {
  ort.InferenceSession.create(new Uint8Array(Buffer.concat(chunks)), JSON.parse(process.argv[2])).then(
    (s) => s.release().then(() => process.stdout.write('{"ok":true}')),
    (e) => process.stdout.write(JSON.stringify({ ok: false, message: String((e && e.message) || e) })),
  )
})`

let queue: Promise<unknown> = Promise.resolve()

/**
 * Load `bytes` on onnxruntime's CPU backend in a child process. Resolves when the load succeeded;
 * throws the load's typed error (`InvalidModelError`, `UnsupportedModelError`) when onnxruntime
 * refused the model, and `InvalidModelError` when the child passed a limit or died.
 */
export function trialLoad(bytes: Uint8Array, limits: TrialLimits): Promise<void> {
  const run = queue.then(() => trial(bytes, limits))
  queue = run.catch(() => {})
  return run
}

async function trial(bytes: Uint8Array, limits: TrialLimits): Promise<void> {
  // Single-threaded: the trial measures what the model needs, not a thread pool's stacks.
  const options = { ...cpuSessionOptions({ cpuThreads: 1, cpuSpin: false }), logSeverityLevel: 3 }
  const child = spawn(process.execPath, ['-e', CHILD, ORT_PATH, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, MALLOC_ARENA_MAX: '2' },
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  child.stdin.on('error', () => {}) // the child may die before it has read everything
  child.stdin.end(bytes)
  let verdict: string | undefined
  const stop = (why: string) => {
    verdict ??= why
    child.kill('SIGKILL')
  }
  const deadline = setTimeout(
    () => stop(`loading it took longer than ${limits.timeoutMs} ms (LASTMILE_MODEL_LOAD_TIMEOUT_MS)`),
    limits.timeoutMs,
  )
  const spawned = new Promise<void>((resolve) => child.once('spawn', resolve))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }))
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  let watching = true
  void spawned.then(async () => {
    // If memory runs out before the watch sees it, the kernel's OOM killer takes the child first.
    await writeFile(`/proc/${child.pid}/oom_score_adj`, '1000').catch(() => {})
    while (watching) {
      const rss = await residentBytes(child.pid as number)
      if (rss !== undefined && rss > limits.memoryBytes) {
        stop(`loading it took more than ${limits.memoryBytes} bytes of memory (LASTMILE_MODEL_LOAD_MEMORY_BYTES)`)
      }
      if (rss === undefined) return // no /proc here (not Linux) or the child is gone
      await new Promise((r) => setTimeout(r, WATCH_MS))
    }
  })
  const end = await exited
  watching = false
  clearTimeout(deadline)
  if (end.error) throw new BackendUnavailableError(`could not start a trial load: ${errorMessage(end.error)}`)
  if (verdict) throw new InvalidModelError(`the model is refused: ${verdict}`, { details: { trial: 'limit' } })
  let report: { ok: boolean; message?: string } | undefined
  try {
    report = JSON.parse(out)
  } catch {
    report = undefined
  }
  if (report?.ok) return
  if (report) throw loadError(new Error(report.message), 'cpu')
  const how = end.signal ? `signal ${end.signal}` : `exit code ${end.code}`
  throw new InvalidModelError(
    `the model is refused: loading it crashed onnxruntime (${how}) in a trial process; the server was not affected`,
    { details: { trial: 'crashed', ...(end.signal ? { signal: end.signal } : { code: end.code }) } },
  )
}

/** A process's resident memory from /proc (Linux), or undefined. */
async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}
