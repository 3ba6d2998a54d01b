/**
 * Adapter discovery on Dawn's node bindings: try the configured Dawn backends in order, keep the
 * first adapter that answers, and describe it. Every failed attempt is kept so that "no GPU"
 * errors say what was tried and why it failed.
 */
import type { GpuConfig } from '../config.js'
import { BackendUnavailableError, errorMessage } from '../errors.js'
import { installWebGpuGlobals, setNavigatorGpu, withFeatureLevel } from './shims.js'

type DawnBackend = 'vulkan' | 'opengles'
type FeatureLevel = 'core' | 'compatibility'

/** What lastmile reports about the adapter it uses (`lastmile info`, `/metrics`, `/v2`). */
export interface AdapterInfo {
  backend: DawnBackend
  featureLevel: FeatureLevel
  vendor: string
  architecture: string
  device: string
  description: string
  /** A CPU implementation (llvmpipe, lavapipe, SwiftShader): correct but slower than the `cpu` backend. */
  software: boolean
  features: string[]
  limits: Record<string, number>
}

export interface DiscoveredAdapter {
  /** The object from Dawn's `create()`: keep it referenced for as long as its devices live. */
  gpu: GPU
  adapter: GPUAdapter
  info: AdapterInfo
}

/** Backends tried in order for a config value. */
function backendsToTry(backend: GpuConfig['backend']): DawnBackend[] {
  return backend === 'auto' ? ['vulkan', 'opengles'] : [backend]
}

function featureLevelFor(cfg: GpuConfig, backend: DawnBackend): FeatureLevel {
  if (cfg.featureLevel !== 'auto') return cfg.featureLevel
  return backend === 'opengles' ? 'compatibility' : 'core'
}

type DawnModule = { create(options: string[]): GPU; globals: object }
let dawn: Promise<DawnModule> | undefined

/** Load dawn.node once (lazily: CPU-only runs never load it). */
function loadDawn(): Promise<DawnModule> {
  dawn ??= import('webgpu').then((m) => {
    installWebGpuGlobals(m.globals)
    return m as DawnModule
  })
  return dawn
}

/**
 * Find an adapter as `cfg` asks, or throw {@link BackendUnavailableError} listing each attempt.
 * Also points `navigator.gpu` at the chosen Dawn instance for onnxruntime-web.
 */
export async function discoverAdapter(cfg: GpuConfig): Promise<DiscoveredAdapter> {
  let mod: DawnModule
  try {
    mod = await loadDawn()
  } catch (e) {
    throw new BackendUnavailableError(`WebGPU is unavailable: Dawn's node bindings failed to load: ${errorMessage(e)}`)
  }
  const attempts: string[] = []
  for (const backend of backendsToTry(cfg.backend)) {
    const featureLevel = featureLevelFor(cfg, backend)
    try {
      const found = await tryBackend(mod, cfg, backend, featureLevel)
      if (found) {
        setNavigatorGpu(found.gpu)
        return found
      }
      attempts.push(`${backend}: no adapter${hint(backend)}`)
    } catch (e) {
      attempts.push(`${backend}: ${errorMessage(e).split('\n').join(' ')}`)
    }
  }
  throw new BackendUnavailableError(`no WebGPU adapter found (${attempts.join('; ')})`, { attempts })
}

function hint(backend: DawnBackend): string {
  return backend === 'vulkan'
    ? ' (needs a Vulkan driver: a GPU driver, or Mesa lavapipe >= 24 as scripts/install-software-gpu.sh installs)'
    : ' (needs Mesa EGL: libegl-mesa0)'
}

async function tryBackend(
  mod: DawnModule,
  cfg: GpuConfig,
  backend: DawnBackend,
  featureLevel: FeatureLevel,
): Promise<DiscoveredAdapter | null> {
  const options = [`backend=${backend}`]
  if (cfg.adapter) options.push(`adapter=${cfg.adapter}`)
  if (backend === 'opengles' && !process.env.EGL_PLATFORM) {
    // Mesa's EGL must not look for a display server; this is Mesa's setting, not one of ours.
    process.env.EGL_PLATFORM = 'surfaceless'
  }
  const gpu = withFeatureLevel(mod.create(options), featureLevel)
  const adapter = await gpu.requestAdapter({ powerPreference: cfg.powerPreference })
  if (!adapter) return null
  return { gpu, adapter, info: describeAdapter(adapter, backend, featureLevel) }
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|warp/i

/** Plain-data description of an adapter. */
function describeAdapter(adapter: GPUAdapter, backend: DawnBackend, featureLevel: FeatureLevel): AdapterInfo {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean }
  const limits: Record<string, number> = {}
  // Dawn's limits live on the prototype: for...in walks them, Object.keys would not.
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key]
    if (typeof v === 'number') limits[key] = v
  }
  const text = `${info.description} ${info.device}`
  return {
    backend,
    featureLevel,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: info.architecture === 'software' || info.isFallbackAdapter === true || SOFTWARE.test(text),
    features: [...adapter.features].map(String).sort(),
    limits,
  }
}
