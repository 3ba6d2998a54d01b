/**
 * Whether this machine has a WebGPU adapter, decided once per test file. GPU suites use
 * `describe.runIf(gpu.ok)` with the reason in their title, so a machine without an adapter shows
 * them as skipped and says why. With LASTMILE_REQUIRE_GPU=1 (set by .ci/run) a missing adapter
 * fails the run instead: CI must never pass GPU suites by skipping them.
 */
import { loadConfig } from '../../src/config.js'
import { type AdapterInfo, discoverAdapter } from '../../src/gpu/discover.js'

export interface GpuProbe {
  ok: boolean
  reason: string
  info?: AdapterInfo
}

let probe: Promise<GpuProbe> | undefined

export function probeGpu(): Promise<GpuProbe> {
  probe ??= (async () => {
    try {
      const found = await discoverAdapter(loadConfig().gpu)
      return { ok: true, reason: '', info: found.info }
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e)
      if (process.env.LASTMILE_REQUIRE_GPU === '1') {
        throw new Error(`LASTMILE_REQUIRE_GPU=1 but no WebGPU adapter: ${reason}`)
      }
      return { ok: false, reason }
    }
  })()
  return probe
}

/** Suite title that carries the skip reason when there is no adapter. */
export function gpuTitle(title: string, gpu: GpuProbe): string {
  return gpu.ok ? `${title} [${gpu.info?.description}]` : `${title} (skipped: ${gpu.reason})`
}
