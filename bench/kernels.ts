/**
 * bench/kernels:
 * 1. Effective bandwidth (GB/s of the minimal bytes each kernel must read and write) of every
 *    memory-bound kernel at large N, against a vec4 copy as the ceiling, measured in the same
 *    run: many dispatches per submit, timed to queue completion.
 * 2. GEMM throughput (GFLOP/s, 2·m·n·k per dispatch) of shaders/gemm.wgsl, and of its subgroup
 *    variant where the device has subgroups, for a batch-1 row and a large batch.
 * 3. Per-batch overhead of the GPU-resident path (one upload, one readback) against a host round
 *    trip between each step, for tabular pre → MLP → softmax/argmax post, at small batches.
 */
import { loadConfig } from '../src/config.js'
import { Engine } from '../src/engine/engine.js'
import { type HostTensor, tensor } from '../src/engine/tensor.js'
import type { ModelSession } from '../src/engine/types.js'
import type { GpuContext } from '../src/gpu/context.js'
import type { Program } from '../src/gpu/program.js'
import { argmaxProgram } from '../src/kernels/argmax.js'
import { copyProgram } from '../src/kernels/copy.js'
import { gemmProgram } from '../src/kernels/gemm.js'
import { imageProgram } from '../src/kernels/image-preprocess.js'
import { sigmoidProgram } from '../src/kernels/sigmoid.js'
import { softmaxProgram } from '../src/kernels/softmax.js'
import { compileTabular, tabularProgram } from '../src/kernels/tabular-preprocess.js'
import { topkProgram } from '../src/kernels/topk.js'
import { FusedModel } from '../src/pipeline/fused.js'
import { type PostStep, resolvePost } from '../src/pipeline/post.js'
import { type PreStep, resolvePre } from '../src/pipeline/pre.js'
import { postSpecSchema, preSpecSchema } from '../src/pipeline/spec.js'
import { mulberry32, uniform } from '../src/random.js'
import { mlpClassifier } from '../test/fixtures/models.js'
import { fmt, machineInfo, printTable, timeInterleaved, writeResults } from './lib.js'

interface KernelCase {
  name: string
  bytes: number
  program: Program
}

/** Buffers for a case, filled with random bytes once. */
function buffers(ctx: GpuContext, sizes: number[]): GPUBuffer[] {
  const rand = mulberry32(7)
  return sizes.map((size, i) => {
    const b = ctx.device.createBuffer({
      label: `bench buffer ${i}`,
      size: Math.ceil(size / 16) * 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    })
    ctx.device.queue.writeBuffer(b, 0, uniform(rand, Math.ceil(size / 16) * 4, -4, 4))
    return b
  })
}

function kernelCases(ctx: GpuContext, scale: number): KernelCase[] {
  const N = 16 * 1024 * 1024 * scale // f32 elements per case (64 MiB at scale 1)
  const cases: KernelCase[] = []
  const [a, b] = buffers(ctx, [N * 4, N * 4]) as [GPUBuffer, GPUBuffer]
  cases.push({ name: 'copy (ceiling)', bytes: 2 * N * 4, program: copyProgram({ bytes: N * 4, src: a, dst: b }) })
  cases.push({ name: 'sigmoid', bytes: 2 * N * 4, program: sigmoidProgram({ count: N, values: a, result: b }) })
  for (const cols of [10, 1000]) {
    const rows = Math.floor(N / cols)
    const bytes = rows * cols * 4
    cases.push({
      name: `softmax [N,${cols}]`,
      bytes: 2 * bytes,
      program: softmaxProgram({ rows, cols, logits: a, probs: b }),
    })
    cases.push({
      name: `argmax [N,${cols}]`,
      bytes: bytes + rows * 4,
      program: argmaxProgram({ rows, cols, scores: a, labels: b }),
    })
  }
  const topRows = Math.floor(N / 100)
  const [idx, val] = buffers(ctx, [topRows * 5 * 4, topRows * 5 * 4]) as [GPUBuffer, GPUBuffer]
  cases.push({
    name: 'top-5 [N,100]',
    bytes: topRows * 100 * 4 + topRows * 5 * 8,
    program: topkProgram({ rows: topRows, cols: 100, k: 5, scores: a, indices: idx, values: val }),
  })
  const plan = compileTabular({
    features: [
      { standardize: { mean: 0, std: 2 }, impute: 'mean', clip: [-3, 3] },
      { minmax: { min: -4, max: 4 } },
      {},
      { standardize: { mean: 1, std: 1 } },
      { onehot: [0, 1, 2, 3] },
      {},
      {},
      {},
    ],
  })
  const rows = N / 16 // in 8 columns, out 11: fits the N-element buffers
  const [recipes] = buffers(ctx, [plan.recipes.byteLength]) as [GPUBuffer]
  ctx.device.queue.writeBuffer(recipes, 0, plan.recipes)
  cases.push({
    name: 'tabular pre [N,8]→[N,11]',
    bytes: rows * (plan.inCols + plan.outCols) * 4,
    program: tabularProgram({ rows, plan, raw: a, columns: recipes, features: b }),
  })
  const images = Math.max(1, Math.floor((N * 4) / (256 * 256 * 4 * 4)))
  cases.push({
    name: 'image pre 256²RGBA→224²',
    bytes: images * (256 * 256 * 4 + 3 * 224 * 224 * 4),
    program: imageProgram({
      shape: { images, inH: 256, inW: 256, inC: 4 },
      spec: {
        height: 224,
        width: 224,
        scale: 1 / 255,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        bgr: false,
      },
      pixels: a,
      tensor: b,
    }),
  })
  return cases
}

/** GEMM cases: a batch-1 row and a large batch through a square layer (smaller on a software adapter). */
function gemmCases(ctx: GpuContext, software: boolean): Array<KernelCase & { flops: number }> {
  const size = software ? 256 : 1024
  const cases: Array<KernelCase & { flops: number }> = []
  for (const m of [1, software ? 512 : 8192]) {
    const [n, k] = [size, size]
    const [a, b, bias, out] = buffers(ctx, [m * k * 4, k * n * 4, n * 4, m * n * 4]) as [
      GPUBuffer,
      GPUBuffer,
      GPUBuffer,
      GPUBuffer,
    ]
    for (const subgroups of ctx.device.features.has('subgroups') ? [false, true] : [false]) {
      cases.push({
        name: `gemm${subgroups ? ' subgroups' : ''} [${m},${k}]×[${k},${n}] relu`,
        bytes: (m * k + k * n + n + m * n) * 4,
        flops: 2 * m * n * k,
        program: gemmProgram({ m, n, k, a, b, bias, out, activation: 'relu', subgroups }),
      })
    }
  }
  return cases
}

async function timeKernel(ctx: GpuContext, c: KernelCase, seconds: number): Promise<number> {
  const run = async (reps: number) => {
    const batch = ctx.batch(c.name)
    for (let i = 0; i < reps; i++) batch.dispatch(c.program)
    const t0 = performance.now()
    await batch.submit()
    await ctx.device.queue.onSubmittedWorkDone()
    return (performance.now() - t0) / reps
  }
  await run(1) // compile and warm
  let reps = 1
  let perDispatch = await run(reps)
  // Grow the batch until one submit takes ~seconds/5, so queue overhead is amortised.
  while (perDispatch * reps < (seconds * 1000) / 5 && reps < 4096) {
    reps = Math.min(4096, Math.max(reps * 2, Math.ceil((seconds * 200) / Math.max(perDispatch, 1e-3))))
    perDispatch = await run(reps)
  }
  const samples = [perDispatch, await run(reps), await run(reps)].sort((x, y) => x - y)
  return samples[1] as number
}

export async function benchKernels(opts: { seconds: number }): Promise<void> {
  const engine = new Engine(loadConfig({}, { logLevel: 'warn' }))
  let gpu: Awaited<ReturnType<Engine['gpu']>>
  try {
    gpu = await engine.gpu()
  } catch (e) {
    process.stdout.write(`\nkernels: skipped, no WebGPU adapter (${e instanceof Error ? e.message : e})\n`)
    await engine.close()
    return
  }
  const info = gpu.adapterInfo
  const adapter = `${info.description} (${info.software ? 'software' : 'hardware'})`
  const ctx = gpu.context()
  // A software adapter is CPU-bound: a quarter of the data keeps the run short.
  const cases = kernelCases(ctx, info.software ? 0.25 : 1)
  const kernelRows: Array<{ kernel: string; bytes: number; ms: number; gbps: number }> = []
  for (const c of cases) {
    const ms = await timeKernel(ctx, c, opts.seconds)
    kernelRows.push({ kernel: c.name, bytes: c.bytes, ms, gbps: c.bytes / (ms * 1e6) })
  }
  const ceiling = kernelRows[0]?.gbps ?? Number.NaN
  printTable(`kernels: effective bandwidth on ${adapter}`, [
    ['kernel', 'MiB moved', 'ms', 'GB/s', 'vs copy'],
    ...kernelRows.map((r) => [
      r.kernel,
      (r.bytes / 2 ** 20).toFixed(0),
      fmt.ms(r.ms),
      r.gbps.toFixed(1),
      `${(r.gbps / ceiling).toFixed(2)}×`,
    ]),
  ])

  const gemmRows: Array<{ kernel: string; ms: number; gflops: number }> = []
  for (const c of gemmCases(ctx, info.software)) {
    const ms = await timeKernel(ctx, c, opts.seconds)
    gemmRows.push({ kernel: c.name, ms, gflops: c.flops / (ms * 1e6) })
  }
  printTable(`kernels: GEMM throughput on ${adapter}`, [
    ['kernel', 'ms', 'GFLOP/s'],
    ...gemmRows.map((r) => [r.kernel, fmt.ms(r.ms), r.gflops.toFixed(1)]),
  ])

  // GPU-resident path against host round trips between the steps.
  const model = mlpClassifier({ features: 11 })
  const steps = {
    pre: {
      tabular: {
        input: 'raw',
        features: [
          { standardize: { mean: 0, std: 2 }, impute: 'mean' as const },
          { minmax: { min: -4, max: 4 } },
          {},
          { standardize: { mean: 1, std: 1 } },
          { onehot: [0, 1, 2, 3] },
          {},
          {},
          {},
        ],
      },
    },
    post: { activation: 'none' as const, argmax: true, topk: 2 },
  }
  const gpuSession = await engine.load(model.bytes, { backend: 'webgpu' })
  const fused = FusedModel.create(gpuSession, steps, gpu)
  const pre = resolvePre(preSpecSchema.parse(steps.pre), gpuSession)
  const post = resolvePost(postSpecSchema.parse(steps.post), gpuSession)
  const cpuEngine = new Engine(loadConfig({}, { backend: 'cpu', logLevel: 'warn' }))
  const cpuFused = FusedModel.create(await cpuEngine.load(model.bytes), steps)
  const overheadRows: Array<Record<string, unknown>> = []
  for (const batch of [1, 64, 1024]) {
    const rand = mulberry32(batch)
    const raw = tensor(
      'float32',
      [batch, 8],
      Array.from({ length: batch * 8 }, (_, i) => (i % 8 === 4 ? Math.floor(rand() * 4) : rand() * 4 - 2)),
    )
    const timings = await timeInterleaved(
      {
        'gpu-resident': () => fused.run({ raw }),
        'host round trips': () => hostRoundTrips(ctx, pre, post, gpuSession, raw),
        'cpu backend': () => cpuFused.run({ raw }),
      },
      { minSeconds: opts.seconds * 3 },
    )
    for (const [path, t] of Object.entries(timings))
      overheadRows.push({ batch, path, medianMs: t.medianMs, p90Ms: t.p90Ms })
  }
  printTable('fused tabular pre → MLP 11→64→64→3 → argmax/top-2, per batch', [
    ['batch', 'path', 'median ms', 'p90 ms'],
    ...overheadRows.map((r) => [
      r.batch as number,
      r.path as string,
      fmt.ms(r.medianMs as number),
      fmt.ms(r.p90Ms as number),
    ]),
  ])
  await cpuEngine.close()
  await engine.close()
  const path = await writeResults('kernels', {
    suite: 'kernels',
    machine: await machineInfo(),
    adapter,
    kernels: kernelRows,
    gemm: gemmRows,
    fused: overheadRows,
  })
  process.stdout.write(`results: ${path}\n`)
}

/**
 * The same work with a host hop between steps: pre on the GPU and read back, the model with host
 * tensors (onnxruntime uploads and downloads), then the post step on the GPU and read back.
 */
async function hostRoundTrips(ctx: GpuContext, pre: PreStep, post: PostStep, session: ModelSession, raw: HostTensor) {
  const b1 = ctx.batch('round trip: pre')
  const features = pre.encode(b1, raw)
  const [bytes] = await b1.read([{ buffer: features.buffer, bytes: features.dims.reduce((x, y) => x * y, 4) }])
  ctx.release(features.buffer)
  const out = await session.run({
    [pre.output]: tensor('float32', features.dims, new Float32Array(bytes as ArrayBuffer)),
  })
  const scores = out[post.input] as HostTensor
  const b2 = ctx.batch('round trip: post')
  const encoded = post.encode(b2, { dtype: 'float32', dims: scores.dims, buffer: b2.upload(scores.data, 'scores') })
  return encoded.assemble(await b2.read(encoded.requests))
}
