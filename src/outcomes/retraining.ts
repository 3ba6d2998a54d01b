/**
 * Scheduled training sets: every tick, each deployed pipeline whose outcome settings have
 * `retraining.every_s` gets an export of its last `window_s` once `every_s` has passed since its
 * last scheduled one (read from its exports at the first look, so a restart neither repeats nor
 * skips one). Runs in one process among those sharing a store (the `retraining` lease, serve.ts).
 */
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Store } from '../store/types.js'
import type { TrainingSets } from './export.js'
import { outcomeSpecSchema } from './spec.js'

export interface RetrainingDeps {
  store: Pick<Store, 'deployments' | 'outcomes'>
  exports: Pick<TrainingSets, 'scheduled' | 'lastScheduled'>
  logger: Logger
}

export class RetrainingScheduler {
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  /** The last scheduled export of each pipeline (ms), once looked up. */
  private readonly last = new Map<string, number>()

  constructor(private readonly deps: RetrainingDeps) {}

  /** Tick every `tickMs` (one tick at a time). */
  start(tickMs: number): void {
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((e) => this.deps.logger.error('retraining tick failed', { error: errorMessage(e) }))
        .finally(() => {
          this.ticking = undefined
        })
    }, tickMs)
    this.timer.unref()
  }

  /** Stop ticking; resolves when the tick in progress has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.ticking
  }

  /** Start the exports due at `now` (tests call it with their own clock; the timer with the real one). */
  async tick(now = Date.now()): Promise<void> {
    for (const d of await this.deps.store.deployments.list()) {
      const key = `${d.workspace}/${d.pipeline}`
      try {
        const stored = await this.deps.store.outcomes.getSpec(d.workspace, d.pipeline)
        const spec = stored ? outcomeSpecSchema.parse(stored.config) : undefined
        const every = spec?.retraining?.every_s
        if (!spec || every === undefined) continue
        if (!this.last.has(key)) {
          const last = await this.deps.exports.lastScheduled(d.workspace, d.pipeline)
          if (last !== undefined) this.last.set(key, last)
        }
        const last = this.last.get(key)
        if (last !== undefined && now - last < every * 1000) continue
        if (await this.deps.exports.scheduled(d.workspace, d.pipeline, spec, now)) this.last.set(key, now)
      } catch (e) {
        this.deps.logger.error('scheduled training set not started', { pipeline: key, error: errorMessage(e) })
      }
    }
  }
}
