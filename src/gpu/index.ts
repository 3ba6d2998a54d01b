/**
 * The process's one GPU runtime, shared by every engine (and so by onnxruntime-web and our
 * kernels). Acquire/release count holders; the device is destroyed when the last one leaves.
 */
import type { GpuConfig } from '../config.js'
import type { Logger } from '../logger.js'
import { GpuRuntime } from './runtime.js'

export { GpuRuntime, type GpuStatus } from './runtime.js'

let shared: { runtime: Promise<GpuRuntime>; holders: number; cfg: string } | undefined

/**
 * Open (once per process) or join the shared GPU runtime. A second caller with a different
 * GPU config joins the existing runtime: one device per process. Rejects with
 * `BackendUnavailableError` when no adapter exists (and the next call tries again).
 */
export async function acquireGpu(cfg: GpuConfig, log: Logger): Promise<GpuRuntime> {
  const key = JSON.stringify(cfg)
  if (!shared) {
    const runtime = GpuRuntime.open(cfg, log)
    shared = { runtime, holders: 0, cfg: key }
    runtime.catch(() => {
      if (shared?.runtime === runtime) shared = undefined
    })
  } else if (shared.cfg !== key) {
    log.warn('GPU already open with another configuration; sharing it (one device per process)')
  }
  const entry = shared
  const rt = await entry.runtime
  entry.holders++
  return rt
}

/** Leave the shared runtime; the last holder closes it. */
export async function releaseGpu(rt: GpuRuntime): Promise<void> {
  if (!shared || (await shared.runtime) !== rt) return
  shared.holders--
  if (shared.holders <= 0) {
    shared = undefined
    rt.close()
  }
}
