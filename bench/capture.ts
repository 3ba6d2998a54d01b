/**
 * bench/capture: what one run of a model on onnxruntime-web's WebGPU EP costs, three ways, on the
 * same device, weights and batch, timed interleaved:
 *   (a) host in/out: a host input tensor, the output left on the GPU and downloaded (what a
 *       lastmile `webgpu` session does for a request without fused pre/post steps);
 *   (b) gpu-resident: input and output in GPU buffers bound by the caller (IO binding), no host
 *       copy; timed until the queue is idle;
 *   (c) captured: as (b) on a session created with `enableGraphCapture`, which records the run's
 *       dispatches once and replays them (static shapes only; one session per batch size);
 *   (d) captured + host copies: (c) with the input written from the host first and the output
 *       read back after, what a request that arrives and leaves over HTTP would pay.
 * Baseline: (a), same run. Each captured output is checked against (a) on a second input written
 * into the same buffer, so a replay that ignores its input fails the check instead of looking fast.
 * `--batches` replaces each model's batch sizes. On a software adapter only the small MLP runs:
 * that checks the paths, not GPU speed.
 */
import { loadConfig } from '../src/config.js'
import { importWebOrt } from '../src/engine/backends.js'
import { Engine } from '../src/engine/engine.js'
import { errorMessage } from '../src/errors.js'
import { mulberry32, uniform } from '../src/random.js'
import { type BenchOptions, fmt, machineInfo, printTable, timeInterleaved, writeResults } from './lib.js'
import { selectModels } from './models.js'

interface Row {
  model: string
  batch: number
  hostMs: number
  residentMs: number
  capturedMs?: number
  /** (d) the captured run with the input written from and the output read back to the host. */
  capturedHostMs?: number
  /** max |captured − host| ÷ max |host| on the check input. */
  capturedError?: number
  capturedFailure?: string
}

export async function benchCapture(opts: BenchOptions): Promise<void> {
  const engine = new Engine(loadConfig({}, { logLevel: 'warn' }))
  const gpu = await engine.gpu()
  const info = gpu.adapterInfo
  const adapter = `${info.description} (${info.software ? 'software' : 'hardware'})`
  const device = gpu.device
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST
  const ort = await importWebOrt('warn')
  const session = (capture: boolean, bytes: Uint8Array) =>
    ort.InferenceSession.create(bytes, {
      executionProviders: [{ name: 'webgpu', device } as never],
      preferredOutputLocation: 'gpu-buffer',
      graphOptimizationLevel: 'all',
      enableGraphCapture: capture,
    })
  const rows: Row[] = []
  const models = selectModels(opts.models ?? []).filter((m) => !info.software || m.key === 'mlp')
  for (const spec of models) {
    const fixture = spec.build()
    const [input, output] = [fixture.inputs[0], fixture.outputs[0]]
    if (!input || !output) continue
    const plain = await session(false, fixture.bytes)
    for (const batch of opts.batches ?? spec.batches) {
      const dims = input.shape.map((d, i) => (i === 0 ? batch : (d as number)))
      const size = dims.reduce((a, b) => a * b, 1)
      const rand = mulberry32(batch)
      const [x1, x2] = [uniform(rand, size, -2, 2), uniform(rand, size, -2, 2)]
      const host = async (x: Float32Array) => {
        const out = (await plain.run({ [input.name]: new ort.Tensor('float32', x, dims) }))[output.name]
        const data = (await out?.getData(true)) as Float32Array
        return { data, dims: out?.dims as readonly number[] }
      }
      const ref = await host(x1)
      const outBytes = ref.data.byteLength
      const inBuf = device.createBuffer({ size: x1.byteLength, usage })
      const outBuf = device.createBuffer({ size: outBytes, usage })
      device.queue.writeBuffer(inBuf, 0, x1)
      const feeds = { [input.name]: ort.Tensor.fromGpuBuffer(inBuf, { dataType: 'float32', dims }) }
      const fetches = { [output.name]: ort.Tensor.fromGpuBuffer(outBuf, { dataType: 'float32', dims: ref.dims }) }
      const resident = async (s: typeof plain) => {
        await s.run(feeds, fetches)
        await device.queue.onSubmittedWorkDone()
      }
      const contenders: Record<string, () => Promise<unknown>> = {
        'host in/out': () => host(x1),
        'gpu-resident': () => resident(plain),
      }
      const row: Omit<Row, 'hostMs' | 'residentMs'> = { model: spec.key, batch }
      let captured: typeof plain | undefined
      try {
        captured = await session(true, fixture.bytes)
        const c = captured
        await resident(c) // the first run records the graph
        device.queue.writeBuffer(inBuf, 0, x2)
        await resident(c)
        const got = await readBuffer(device, outBuf, outBytes)
        const want = (await host(x2)).data
        row.capturedError = maxRelative(got, want)
        device.queue.writeBuffer(inBuf, 0, x1)
        contenders.captured = () => resident(c)
        contenders['captured + host copies'] = async () => {
          device.queue.writeBuffer(inBuf, 0, x1)
          await c.run(feeds, fetches)
          return readBuffer(device, outBuf, outBytes)
        }
      } catch (e) {
        row.capturedFailure = errorMessage(e).split('\n')[0]
      }
      const t = await timeInterleaved(contenders, { minSeconds: opts.seconds })
      rows.push({
        ...row,
        hostMs: t['host in/out']?.medianMs ?? Number.NaN,
        residentMs: t['gpu-resident']?.medianMs ?? Number.NaN,
        ...(t.captured ? { capturedMs: t.captured.medianMs } : {}),
        ...(t['captured + host copies'] ? { capturedHostMs: t['captured + host copies'].medianMs } : {}),
      })
      await captured?.release()
      inBuf.destroy()
      outBuf.destroy()
    }
    await plain.release()
  }
  await engine.close()
  printTable(`capture: ms per run on ${adapter}, onnxruntime-web WebGPU EP`, [
    [
      'model',
      'batch',
      'host in/out',
      'gpu-resident',
      'captured',
      'captured + host copies',
      'captured ÷ host',
      'captured error',
    ],
    ...rows.map((r) => [
      r.model,
      r.batch,
      fmt.ms(r.hostMs),
      fmt.ms(r.residentMs),
      r.capturedMs === undefined ? `failed: ${r.capturedFailure ?? '?'}` : fmt.ms(r.capturedMs),
      r.capturedHostMs === undefined ? '–' : fmt.ms(r.capturedHostMs),
      r.capturedMs === undefined ? '–' : `${(r.hostMs / r.capturedMs).toFixed(2)}× faster`,
      r.capturedError === undefined ? '–' : r.capturedError.toExponential(1),
    ]),
  ])
  const path = await writeResults('capture', { suite: 'capture', machine: await machineInfo(), adapter, rows })
  console.log(`results: ${path}`)
}

async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
  const enc = device.createCommandEncoder()
  enc.copyBufferToBuffer(src, 0, staging, 0, bytes)
  device.queue.submit([enc.finish()])
  await staging.mapAsync(GPUMapMode.READ)
  const out = new Float32Array(staging.getMappedRange().slice(0))
  staging.destroy()
  return out
}

/** max |a − b| ÷ max |b|: 0 when the captured replay computed the same output. */
function maxRelative(a: Float32Array, b: Float32Array): number {
  let err = 0
  let scale = 0
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs((a[i] ?? Number.NaN) - (b[i] as number)))
    scale = Math.max(scale, Math.abs(b[i] as number))
  }
  return a.length === b.length ? err / (scale || 1) : Number.POSITIVE_INFINITY
}
