/**
 * The one way lastmile starts a worker thread: each worker is a module of its own, beside the pool
 * that starts it. From the build it is plain JavaScript and starts as it is. From the TypeScript
 * sources (under the test runner, which transpiles the main thread's modules but not a worker's)
 * it starts through module hooks that transpile it on load (source-hooks.mjs); the build never
 * loads them.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads'

/** Whether lastmile runs from its TypeScript sources (this module is then `start.ts`). */
const FROM_SOURCES = import.meta.url.endsWith('.ts')

const HOOKS = new URL('./source-hooks.mjs', import.meta.url)

/**
 * The URL of worker module `path` (relative to `base`, the caller's `import.meta.url`, named with
 * `.js` as imports are): its `.ts` source when lastmile runs from its sources.
 *
 * @example workerModule('./decode-worker.js', import.meta.url)
 */
export function workerModule(path: string, base: string): URL {
  return new URL(FROM_SOURCES ? path.replace(/\.js$/, '.ts') : path, base)
}

/**
 * Start a worker thread running the module at `entry` (a `.ts` module through the transpiling
 * hooks), with `options` as `new Worker` takes them (`workerData`, `resourceLimits`, ...).
 */
export function startWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options)
  const boot = [
    "import { register } from 'node:module'",
    `register(${JSON.stringify(HOOKS.href)})`,
    `await import(${JSON.stringify(entry.href)})`,
  ].join('\n')
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), options)
}
