/**
 * Autoscaled deployments in real time: replicas added under a load step and taken out when the
 * load goes, a hot swap in the middle of a scale-up, and no request failed or lost in any of it.
 * A replica's capacity is bounded by time, not by this machine's CPU: every batch (8 rows at
 * most) takes 100 ms more than the model (DeploymentDeps.runBatch), so one replica answers at
 * most 80 rows a second whatever else the machine runs. Bounds are generous; the figures each
 * run measured are printed.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import { type HostTensor, tensor } from '../../src/engine/tensor.js'
import type { ModelSession } from '../../src/engine/types.js'
import type { ScaleDecision } from '../../src/serving/autoscaler.js'
import {
  Deployment,
  type DeploymentDeps,
  DeploymentManager,
  type DeploymentSpec,
} from '../../src/serving/deployment.js'
import type { AutoscalingConfig } from '../../src/serving/settings.js'
import { doubler, spec } from '../helpers/server.js'

const BATCH_MS = 100
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Each batch takes BATCH_MS more than the model itself. */
const slowBatches: DeploymentDeps['runBatch'] = async (run, feeds) => {
  const r = await run(feeds)
  await sleep(BATCH_MS)
  return r
}

/**
 * An engine that counts each session's releases (the engine's own release is idempotent, so a
 * second release would pass unseen) and can make loads slow (a replica being built for a while).
 */
function countingEngine() {
  const engine = new Engine(loadConfig({}, { backend: 'cpu', logLevel: 'error' }))
  const releases = new Map<ModelSession, number>()
  const state = { loadDelayMs: 0 }
  const load = engine.load.bind(engine)
  engine.load = async (bytes, opts) => {
    if (state.loadDelayMs > 0) await sleep(state.loadDelayMs)
    const s = await load(bytes, opts)
    releases.set(s, 0)
    const release = s.release.bind(s)
    s.release = () => {
      releases.set(s, (releases.get(s) ?? 0) + 1)
      return release()
    }
    return s
  }
  return {
    engine,
    state,
    /** Sessions loaded and not released; and whether any was released more than once. */
    live: () => [...releases.values()].filter((n) => n === 0).length,
    twice: () => [...releases.values()].filter((n) => n > 1).length,
    loaded: () => releases.size,
  }
}

const model = doubler()
const autoscaled = (autoscaling: Partial<AutoscalingConfig>, version = 1): DeploymentSpec => ({
  ...spec('slow', model, { pipelineVersion: version, batching: { max_batch_size: 8, max_queue_delay_ms: 2 } }),
  // One replica is meant to hold 8 requests: one full batch.
  autoscaling: { target_in_flight: 8, target_utilization: 1, max_replicas: 8, ...autoscaling },
})

/** Closed-loop clients: each sends a one-row request as soon as its previous one is answered. */
class Load {
  readonly answered: Array<{ end: number; ms: number }> = []
  readonly failed: unknown[] = []
  private stopping = false
  private readonly clients: Promise<void>[] = []

  constructor(private readonly target: () => Deployment) {}

  /** Add clients until `n` run. */
  to(n: number): void {
    while (this.clients.length < n) this.clients.push(this.client())
  }

  private async client(): Promise<void> {
    while (!this.stopping) {
      const t0 = performance.now()
      try {
        const r = await this.target().infer({ x: tensor('float32', [1, 2], [1, 2]) })
        if ((r.outputs.y as HostTensor).data[1] !== 4) throw new Error('wrong answer')
        this.answered.push({ end: performance.now(), ms: performance.now() - t0 })
      } catch (e) {
        this.failed.push(e)
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(this.clients)
  }

  /** p99 latency (ms) of the requests answered in [from, to). */
  p99(from: number, to: number): number {
    const ms = this.answered
      .filter((a) => a.end >= from && a.end < to)
      .map((a) => a.ms)
      .sort((a, b) => a - b)
    return ms[Math.min(ms.length - 1, Math.floor(0.99 * ms.length))] ?? Number.NaN
  }
}

/** Poll `cond` every 100 ms for up to `ms`; whether it held. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (!cond()) {
    if (performance.now() > end) return false
    await sleep(100)
  }
  return true
}

const decisions = (d: Deployment): ScaleDecision[] => d.autoscalingStatus()?.decisions ?? []

describe('autoscaled deployment, real time', () => {
  const engines: Array<ReturnType<typeof countingEngine>> = []
  afterAll(async () => {
    for (const e of engines) await e.engine.close()
  })
  const newEngine = () => {
    const e = countingEngine()
    engines.push(e)
    return e
  }

  it('a load step from 1× to 8× of one replica: panics within 6 s, serves on 8 replicas, no request fails, p99 recovers', async () => {
    const e = newEngine()
    const d = await Deployment.start(e.engine, autoscaled({ stable_window_s: 20 }), { runBatch: slowBatches })
    const load = new Load(() => d)
    load.to(8) // 1×: 8 in flight, one replica's target
    await sleep(3000)
    const stepAt = performance.now()
    const steady = load.p99(stepAt - 2000, stepAt)
    expect(d.replicaCount).toBe(1)
    expect(decisions(d)).toEqual([])
    load.to(64) // 8×
    const servingBy = (await waitFor(() => d.replicaCount === 8, 30_000)) ? performance.now() - stepAt : Number.NaN
    // Then p99 per second until three seconds in a row are under 2× the steady p99 (30 s at most).
    let recoveredBy = Number.NaN
    for (let s = 0, good = 0; s < 30 && good < 3; s++) {
      await waitFor(() => performance.now() >= stepAt + (s + 1) * 1000, 31_000)
      good = load.p99(stepAt + s * 1000, stepAt + (s + 1) * 1000) < 2 * steady ? good + 1 : 0
      if (good === 1) recoveredBy = (s + 1) * 1000
    }
    await load.stop()
    const first = decisions(d)[0] as ScaleDecision
    const firstAfterMs = first.time - (Date.now() - (performance.now() - stepAt))
    console.log(
      `load step: steady p99 ${steady.toFixed(0)} ms; first decision ${(firstAfterMs / 1000).toFixed(1)} s after the step (${first.reason}); 8 replicas serving after ${(servingBy / 1000).toFixed(1)} s; p99 under 2× steady from ${(recoveredBy / 1000).toFixed(0)} s; ${load.answered.length} answered, ${load.failed.length} failed`,
    )
    expect(load.failed).toEqual([])
    expect(first).toMatchObject({ from: 1, direction: 'up' })
    expect(firstAfterMs).toBeLessThanOrEqual(6000)
    // A tick at the step itself may see the stable average just past one replica's target (the
    // step's first requests are in flight) and scale up in stable mode first; the panic follows.
    const panic = decisions(d).find((x) => x.mode === 'panic') as ScaleDecision
    expect(panic).toMatchObject({ direction: 'up' })
    expect(panic.time - (Date.now() - (performance.now() - stepAt))).toBeLessThanOrEqual(6000)
    expect(servingBy).toBeLessThanOrEqual(20_000)
    expect(recoveredBy).toBeLessThanOrEqual(30_000)
    expect(decisions(d).every((x) => x.direction === 'up')).toBe(true)
    expect(d.status().autoscaling).toMatchObject({ desired_replicas: 8, panic: expect.any(Boolean) })
    await d.stop()
    expect([e.loaded(), e.live(), e.twice()]).toEqual([8, 0, 0])
  }, 90_000)

  it('scales down when the load goes, without failing a request while replicas leave', async () => {
    const e = newEngine()
    const d = await Deployment.start(e.engine, autoscaled({ stable_window_s: 4, panic_window_s: 2, max_replicas: 4 }), {
      runBatch: slowBatches,
    })
    const load = new Load(() => d)
    load.to(32) // 4 replicas' worth
    expect(await waitFor(() => d.replicaCount === 4, 30_000)).toBe(true)
    await sleep(1000)
    await load.stop()
    // Light load while the count falls: one client, so batches run as replicas leave.
    const light = new Load(() => d)
    light.to(1)
    expect(await waitFor(() => d.replicaCount === 1, 30_000)).toBe(true)
    await light.stop()
    const downs = decisions(d).filter((x) => x.direction === 'down')
    console.log(`scale-down: ${downs.map((x) => `${x.from}→${x.to} (${x.reason})`).join('; ')}`)
    expect(downs.length).toBeGreaterThan(0)
    expect(downs.every((x) => x.mode === 'stable')).toBe(true)
    expect([...load.failed, ...light.failed]).toEqual([])
    expect(light.answered.length).toBeGreaterThan(0)
    // Three replicas taken out: their sessions released once each; the last one still serves.
    expect([e.loaded(), e.live(), e.twice()]).toEqual([4, 1, 0])
    await d.stop()
    expect([e.live(), e.twice()]).toEqual([0, 0])
  }, 90_000)

  it('a hot swap in the middle of a scale-up loses nothing and releases every replica once', async () => {
    const e = newEngine()
    const manager = new DeploymentManager(e.engine, { runBatch: slowBatches })
    const first = await manager.deploy(autoscaled({ stable_window_s: 20 }, 1))
    e.state.loadDelayMs = 1500 // replicas take a while to build from now on
    const load = new Load(() => manager.require('default', 'slow'))
    load.to(64)
    expect(await waitFor(() => decisions(first).length > 0, 20_000)).toBe(true)
    // The scale-up is in progress: its replicas are being built. Swap to version 2 now.
    const building = first.autoscalingStatus()?.desired_replicas as number
    expect(building).toBeGreaterThan(first.replicaCount)
    e.state.loadDelayMs = 0
    const second = await manager.deploy(autoscaled({ stable_window_s: 20 }, 2))
    // The new version starts at the count the old one was heading to, not at the minimum.
    expect(second.replicaCount).toBeGreaterThanOrEqual(building)
    expect(await waitFor(() => first.state === 'stopped', 20_000)).toBe(true)
    await sleep(1000)
    await load.stop()
    const v2 = load.answered.length
    console.log(
      `hot swap: v1 heading to ${building} replicas when swapped, v2 started with ${second.replicaCount}; ${v2} answered, ${load.failed.length} failed`,
    )
    expect(load.failed).toEqual([])
    await manager.stopAll()
    expect([e.live(), e.twice()]).toEqual([0, 0])
  }, 90_000)
})
