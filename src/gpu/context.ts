/**
 * Per-device services for our kernels: a compute-pipeline cache keyed by the spliced shader source
 * and compile-time constants, a buffer pool, and batches that record dispatches into one command
 * encoder, submit once and read results back through one staging buffer (one upload and one
 * readback per batch).
 * A new device (after a loss) gets a new context: nothing here outlives its device.
 */
import { makeStructuredView } from 'webgpu-utils'
import { InferenceError } from '../errors.js'
import { BufferPool } from './buffer-pool.js'
import type { Binding, Program, ShaderSource } from './program.js'

/** Storage usage for buffers kernels read and write and copies move. */
function storageUsage(): GPUBufferUsageFlags {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST
}

export interface ReadRequest {
  buffer: GPUBuffer
  /** Bytes to read from offset 0. */
  bytes: number
}

export class GpuContext {
  readonly pool: BufferPool
  /** By spliced source (the same name with other code is another shader), then by constants. */
  private readonly shaders = new Map<string, { module: GPUShaderModule; pipelines: Map<string, GPUComputePipeline> }>()

  constructor(
    readonly device: GPUDevice,
    /** The runtime's device generation this context belongs to. */
    readonly generation: number,
    /** Wrap every batch in validation and out-of-memory error scopes (tests, debugging). */
    readonly validate = false,
  ) {
    this.pool = new BufferPool(device)
  }

  /** The compute pipeline for `shader` with `constants`, compiled once per source and constants. */
  pipeline(shader: ShaderSource, constants: Readonly<Record<string, number>> = {}): GPUComputePipeline {
    let compiled = this.shaders.get(shader.code)
    if (!compiled) {
      const module = this.device.createShaderModule({ label: shader.name, code: shader.code })
      compiled = { module, pipelines: new Map() }
      this.shaders.set(shader.code, compiled)
    }
    const key = Object.entries(constants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
    let pipeline = compiled.pipelines.get(key)
    if (!pipeline) {
      pipeline = this.device.createComputePipeline({
        label: `${shader.name}|${key}`,
        layout: 'auto',
        compute: { module: compiled.module, entryPoint: 'main', constants: { ...constants } },
      })
      compiled.pipelines.set(key, pipeline)
    }
    return pipeline
  }

  /** Number of compiled pipelines (tests check that shapes do not multiply them). */
  pipelineCount(): number {
    let n = 0
    for (const s of this.shaders.values()) n += s.pipelines.size
    return n
  }

  /** Start a batch of dispatches. */
  batch(label: string): GpuBatch {
    return new GpuBatch(this, label)
  }

  /** Release a buffer that a batch handed out with `output()`. */
  release(buffer: GPUBuffer): void {
    this.pool.release(buffer)
  }
}

/**
 * Records uploads and dispatches into one command encoder. `submit()` (no readback) or `read()`
 * (one staging buffer, one map) ends it and returns temporaries to the pool.
 */
export class GpuBatch {
  readonly encoder: GPUCommandEncoder
  private readonly temporaries: GPUBuffer[] = []
  private done = false

  constructor(
    private readonly ctx: GpuContext,
    private readonly label: string,
  ) {
    if (ctx.validate) {
      ctx.device.pushErrorScope('out-of-memory')
      ctx.device.pushErrorScope('validation')
    }
    this.encoder = ctx.device.createCommandEncoder({ label })
  }

  /** A pooled storage buffer released when the batch ends. */
  scratch(bytes: number, label: string): GPUBuffer {
    const b = this.ctx.pool.acquire(Math.max(4, bytes), storageUsage(), `${this.label}: ${label}`)
    this.temporaries.push(b)
    return b
  }

  /** A pooled storage buffer the caller keeps after the batch (return it with `ctx.release`). */
  output(bytes: number, label: string): GPUBuffer {
    return this.ctx.pool.acquire(Math.max(4, bytes), storageUsage(), `${this.label}: ${label}`)
  }

  /** Upload `data` into a scratch buffer (padded to 4 bytes). */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const bytes = alignTo(data.byteLength, 4)
    const b = this.scratch(bytes, label)
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (src.byteLength % 4 === 0) this.ctx.device.queue.writeBuffer(b, 0, src)
    else {
      const padded = new Uint8Array(bytes)
      padded.set(src)
      this.ctx.device.queue.writeBuffer(b, 0, padded)
    }
    return b
  }

  /** Record one dispatch of `program`. */
  dispatch(program: Program): void {
    const { device } = this.ctx
    const pipeline = this.ctx.pipeline(program.shader, program.constants)
    const entries: GPUBindGroupEntry[] = []
    const { defs } = program.shader
    const params = defs.uniforms.params
    if (params) {
      const view = makeStructuredView(params)
      view.set(program.uniforms ?? {})
      const ub = this.ctx.pool.acquire(
        view.arrayBuffer.byteLength,
        GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        `${program.label}: params`,
      )
      this.temporaries.push(ub)
      device.queue.writeBuffer(ub, 0, view.arrayBuffer)
      entries.push({ binding: params.binding, resource: { buffer: ub, size: view.arrayBuffer.byteLength } })
    }
    for (const [name, def] of Object.entries(defs.storages)) {
      const b = program.bindings[name]
      if (!b) throw new InferenceError(`kernel ${program.shader.name}: no buffer bound to '${name}'`)
      entries.push({ binding: def.binding, resource: toResource(b) })
    }
    for (const b of program.clear ?? []) this.encoder.clearBuffer(b)
    const pass = this.encoder.beginComputePass({ label: program.label })
    pass.setPipeline(pipeline)
    pass.setBindGroup(
      0,
      device.createBindGroup({ label: program.label, layout: pipeline.getBindGroupLayout(0), entries }),
    )
    pass.dispatchWorkgroups(...program.workgroups)
    pass.end()
  }

  /** Submit without reading anything back (the results stay on the GPU in `output()` buffers). */
  async submit(): Promise<void> {
    this.ctx.device.queue.submit([this.finishEncoder()])
    await this.end()
  }

  /**
   * Copy each request into one staging buffer, submit, map it once and return a copy of each
   * request's bytes.
   */
  async read(requests: readonly ReadRequest[]): Promise<ArrayBuffer[]> {
    const offsets: number[] = []
    let total = 0
    for (const r of requests) {
      offsets.push(total)
      total += alignTo(r.bytes, 8) // copyBufferToBuffer needs 4-byte multiples; 8 keeps doubles aligned
    }
    const staging = this.ctx.pool.acquire(
      Math.max(8, total),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      `${this.label}: readback`,
    )
    requests.forEach((r, i) => {
      this.encoder.copyBufferToBuffer(r.buffer, 0, staging, offsets[i] as number, alignTo(r.bytes, 4))
    })
    this.ctx.device.queue.submit([this.finishEncoder()])
    let out: ArrayBuffer[]
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, Math.max(8, total))
      const mapped = staging.getMappedRange(0, Math.max(8, total))
      out = requests.map((r, i) => mapped.slice(offsets[i] as number, (offsets[i] as number) + r.bytes))
      staging.unmap()
      this.temporaries.push(staging)
    } catch (e) {
      staging.destroy() // a failed map (lost device) leaves it unusable
      await this.end().catch(() => {})
      throw new InferenceError(
        `GPU readback failed in '${this.label}': ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
        },
      )
    }
    await this.end()
    return out
  }

  private finishEncoder(): GPUCommandBuffer {
    if (this.done) throw new InferenceError(`GPU batch '${this.label}' was already submitted`)
    this.done = true
    return this.encoder.finish({ label: this.label })
  }

  private async end(): Promise<void> {
    for (const b of this.temporaries.splice(0)) this.ctx.pool.release(b)
    if (!this.ctx.validate) return
    const validation = await this.ctx.device.popErrorScope()
    const oom = await this.ctx.device.popErrorScope()
    const err = validation ?? oom
    if (err) throw new InferenceError(`GPU batch '${this.label}' failed: ${err.message}`)
  }
}

function toResource(b: Binding): GPUBufferBinding {
  return 'mapAsync' in b
    ? { buffer: b }
    : { buffer: b.buffer, offset: b.offset ?? 0, ...(b.size ? { size: b.size } : {}) }
}

function alignTo(n: number, a: number): number {
  return Math.ceil(n / a) * a
}
