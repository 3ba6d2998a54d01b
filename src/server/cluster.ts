/**
 * `lastmile serve --workers N`: N processes answer on one port (node:cluster; the primary accepts
 * connections and hands them out in turn). The primary takes the data folder's lock, tidies it and
 * brings the store's schema up to date once, then starts the workers; it serves nothing itself.
 * Each worker is a whole server with its own engine sessions: it follows the deployments others
 * make through the store's change feed, writes its own inference-log segments, and takes singleton
 * work under leases (src/server/singletons.ts). A worker that dies is started again; SIGTERM or
 * SIGINT drains every worker, then the primary exits.
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import type { Config } from '../config.js'
import { InvalidConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { LogWriter } from '../logs/segment-names.js'
import { lockDataDir, tidyDataDir } from '../store/data-dir.js'
import { openStore } from '../store/open.js'

const INDEX_VAR = 'LASTMILE_WORKER_INDEX'
const COUNT_VAR = 'LASTMILE_WORKER_COUNT'
const RESTARTED_VAR = 'LASTMILE_WORKER_RESTARTED'

/** A worker that dies sooner than this after its start is started again only after a growing pause. */
const STEADY_MS = 10_000
const MAX_PAUSE_MS = 30_000

/** The processes `workers` asks for: `auto` is one per CPU core. */
export function workerCount(workers: Config['server']['workers']): number {
  return workers === 'auto' ? Math.max(1, Math.min(256, availableParallelism())) : workers
}

/** Which worker this process is, when the primary of `lastmile serve --workers` started it. */
export function thisWorker(): (LogWriter & { restarted: boolean }) | undefined {
  if (!cluster.isWorker) return undefined
  const index = Number(process.env[INDEX_VAR])
  const count = Number(process.env[COUNT_VAR])
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count)
    throw new InvalidConfigError(`a worker needs ${INDEX_VAR} and ${COUNT_VAR} (started by its primary)`)
  return { index, count, restarted: process.env[RESTARTED_VAR] === '1' }
}

/** Tell the primary this worker serves. */
export function workerReady(): void {
  process.send?.({ lastmile: 'ready' })
}

/**
 * Run the primary: lock and tidy the data folder, start `count` workers, start again any that
 * dies, and drain them all on SIGTERM or SIGINT. Resolves with the exit code: 1 when a worker
 * could not start at all (its error is on stderr), 0 after a shutdown.
 */
export async function runPrimary(config: Config, count: number, log: Logger): Promise<number> {
  const lock = await lockDataDir(config.dataDir)
  try {
    const store = await openStore(config, log) // the schema is brought up to date here, once
    try {
      await tidyDataDir(config.dataDir, store, log)
    } finally {
      await store.close()
    }
  } catch (e) {
    lock.release()
    throw e
  }
  const workers = new Map<number, Worker>()
  const pauses = new Map<number, number>()
  let stopping = false
  let startFailed = false
  let allReady: () => void = () => {}
  const ready = new Set<number>()
  const everyoneReady = new Promise<void>((r) => {
    allReady = r
  })
  const stopped = new Promise<void>((resolve) => {
    const start = (index: number, restarted: boolean) => {
      const began = Date.now()
      const w = cluster.fork({
        [INDEX_VAR]: String(index),
        [COUNT_VAR]: String(count),
        ...(restarted ? { [RESTARTED_VAR]: '1' } : {}),
      })
      workers.set(index, w)
      w.on('message', (m: unknown) => {
        if ((m as { lastmile?: string } | null)?.lastmile !== 'ready') return
        ready.add(index)
        if (ready.size === count) allReady()
      })
      w.on('exit', (code, signal) => {
        workers.delete(index)
        if (!stopping && !ready.has(index) && !restarted) {
          // A first start failed (a configuration mistake, a port in use): stop, do not loop.
          startFailed = true
          shutdown()
        }
        if (stopping) {
          if (workers.size === 0) resolve()
          return
        }
        const pause = Date.now() - began < STEADY_MS ? Math.min(MAX_PAUSE_MS, (pauses.get(index) ?? 500) * 2) : 1000
        pauses.set(index, pause)
        log.warn('worker died; starting it again', { worker: index, pid: w.process.pid, code, signal, pauseMs: pause })
        setTimeout(() => {
          if (!stopping) start(index, true)
        }, pause).unref()
      })
    }
    const shutdown = () => {
      if (stopping) return
      stopping = true
      allReady()
      if (workers.size === 0) resolve()
      for (const w of workers.values()) w.process.kill('SIGTERM') // each drains what it holds, then exits
    }
    process.once('SIGTERM', shutdown)
    process.once('SIGINT', shutdown)
    for (let i = 0; i < count; i++) start(i, false)
  })
  await everyoneReady
  if (!startFailed && !stopping) log.info('workers serving', { workers: count })
  await stopped
  lock.release()
  return startFailed ? 1 : 0
}
