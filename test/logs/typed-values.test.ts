/**
 * The inference log keeps FP16 and 64-bit integer values as the model saw and answered them: FP16
 * as each half's value (it stored the raw bits: 1 and -2 read back 15360 and 49152), INT64/UINT64
 * as int64/uint64 Arrow columns (they were float64: 2^63 - 1 read back 9223372036854776000).
 * Through a listening server: `GET …/logs` as JSON (exact text) and Arrow (typed columns), the
 * values assays read and an explanation referencing logged INT64 rows past 2^53 (a bigint, which
 * the explainer refused with a 500), from open frames and rolled segments. In the log itself: a
 * segment written before the log typed its columns (float64 everywhere) still reads beside a
 * typed one, and a column that changed kind between versions still answers as Arrow.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  float64,
  list,
  TimeUnit,
  Type,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { type AnyTensor, tensor } from '../../src/engine/tensor.js'
import { silentLogger } from '../../src/logger.js'
import { InferenceLog } from '../../src/logs/inference-log.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { TEST_LOG_CONFIG, tempDir, testConfig } from '../helpers/server.js'

/** y = x for one input of `dtype` and `shape`. */
function identity(dtype: 'int64' | 'uint64' | 'float16', shape: Array<string | number>): Uint8Array {
  const g = new GraphBuilder(`id_${dtype}`)
  g.output(g.node('Identity', [g.input('x', dtype, shape)]), dtype, shape, 'y')
  return g.toModel()
}

const OIP = { 'content-type': 'application/json' }

describe.each([
  ['open frames', 64 * 1024 * 1024],
  ['rolled segments', 1024], // the least the setting takes: less than one frame, so every flush rolls
])('the inference log through the server, FP16 and 64-bit values in %s', (_, rollBytes) => {
  let server: RunningServer
  const dataDir = tempDir()
  const url = (path: string) => `${server.url}/v1/workspaces/default/pipelines/${path}`

  beforeAll(async () => {
    server = await startServer(testConfig({ dataDir, inferenceLog: { rollBytes } }))
    const lm = new LastmileClient({ url: server.url })
    const models: Array<[string, Uint8Array]> = [
      ['f16', identity('float16', ['N', 2])],
      ['i64', identity('int64', ['N', 2])],
      ['u64', identity('uint64', ['N'])],
    ]
    for (const [name, bytes] of models) {
      await lm.uploadModel('default', name, bytes)
      await lm.putPipeline('default', name, [{ model: name }])
      await lm.deploy('default', name)
    }
    const infer = async (name: string, datatype: string, shape: number[], data: string) => {
      const res = await fetch(`${server.url}/v2/models/${name}/infer`, {
        method: 'POST',
        headers: OIP,
        body: `{"inputs":[{"name":"x","shape":${JSON.stringify(shape)},"datatype":"${datatype}","data":${data}}]}`,
      })
      expect(res.status).toBe(200)
    }
    await infer('f16', 'FP16', [2, 2], '[1,-2,0.1,65504]')
    await infer('i64', 'INT64', [2, 2], '[9223372036854775807,-9223372036854775808,9007199254740993,-3]')
    await infer('u64', 'UINT64', [3], '[18446744073709551615,0,7]')
    await server.deps.inferenceLog.flush()
    const segments = readdirSync(dataDir, { recursive: true }).filter((f) => /seg-[^/]*\.arrow$/.test(String(f)))
    expect(segments).toHaveLength(rollBytes === 1024 ? 3 : 0)
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('answers the logs as exact JSON', async () => {
    const f16 = await (await fetch(url('f16/logs'))).text()
    expect(f16).toContain('"in.x":[1,-2],"out.y":[1,-2]')
    expect(f16).toContain('"in.x":[0.0999755859375,65504],"out.y":[0.0999755859375,65504]')
    const i64 = await (await fetch(url('i64/logs'))).text()
    expect(i64).toContain(
      '"in.x":[9223372036854775807,-9223372036854775808],"out.y":[9223372036854775807,-9223372036854775808]',
    )
    expect(i64).toContain('"in.x":[9007199254740993,-3],"out.y":[9007199254740993,-3]')
    const u64 = await (await fetch(url('u64/logs'))).text()
    expect(u64).toContain('"in.x":18446744073709551615,"out.y":18446744073709551615')
    expect(u64).toContain('"in.x":7,"out.y":7')
    // Still JSON, small values plain numbers.
    expect((JSON.parse(u64) as Array<Record<string, unknown>>).map((r) => r['out.y'])).toEqual([
      18446744073709552000, 0, 7,
    ])
  })

  it('answers the logs as Arrow with int64 and uint64 columns', async () => {
    const arrow = async (path: string) =>
      tableFromIPC(new Uint8Array(await (await fetch(url(`${path}/logs?format=arrow`))).arrayBuffer()), {
        useBigInt: true,
      })
    const i64 = await arrow('i64')
    const element = (t: typeof i64, name: string) =>
      (t.schema.fields.find((f) => f.name === name)?.type as { children?: Array<{ type: unknown }> })?.children?.[0]
        ?.type
    expect(element(i64, 'out.y')).toMatchObject({ typeId: Type.Int, bitWidth: 64, signed: true })
    expect(Array.from(i64.getChild('out.y')?.toArray() ?? [], (v) => Array.from(v as BigInt64Array))).toEqual([
      [9223372036854775807n, -9223372036854775808n],
      [9007199254740993n, -3n],
    ])
    const u64 = await arrow('u64')
    expect(u64.schema.fields.find((f) => f.name === 'in.x')?.type).toMatchObject({ typeId: Type.Int, signed: false })
    expect(Array.from(u64.getChild('in.x')?.toArray() ?? [])).toEqual([18446744073709551615n, 0n, 7n])
    const f16 = await arrow('f16')
    expect(Array.from(f16.getChild('in.x')?.toArray() ?? [], (v) => Array.from(v as Float64Array))).toEqual([
      [1, -2],
      [0.0999755859375, 65504],
    ])
  })

  it('explains from logged rows holding INT64 values past 2^53', async () => {
    const res = await fetch(url('i64/explain'), {
      method: 'POST',
      headers: OIP,
      body: JSON.stringify({ method: 'pdp', reference: { start: 0, end: Date.now() + 60_000 }, features: ['x[0]'] }),
    })
    const body = (await res.json()) as { reference_rows?: number }
    expect({ status: res.status, rows: body.reference_rows }).toEqual({ status: 200, rows: 2 })
  })

  it('gives assays the values as numbers', async () => {
    const log = server.deps.inferenceLog
    expect(Array.from(await log.values('default', 'f16', 'in.x[1]'))).toEqual([-2, 65504])
    expect(Array.from(await log.values('default', 'f16', 'out.y[0]'))).toEqual([1, 0.0999755859375])
    expect(Array.from(await log.values('default', 'i64', 'out.y[1]'))).toEqual([-(2 ** 63), -3])
    expect(Array.from(await log.values('default', 'u64', 'in.x'))).toEqual([2 ** 64, 0, 7])
  })
})

describe('an inference log from before its columns were typed', () => {
  const T = Date.now() - 3_600_000
  const dir = tempDir()
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads an old float64 segment beside a typed one, as rows, Arrow and assay values', async () => {
    // What the log wrote before: every number float64, FP16 as bits, INT64 through a double.
    const old = tableFromArrays(
      {
        time: [T],
        pipeline_version: [1],
        model: ['m:1'],
        check_failures: [0],
        latency_ms: [1.5],
        'in.x': [[15360, 2 ** 63]], // 2^63 - 1 through a double
      },
      {
        types: {
          time: timestamp(TimeUnit.MILLISECOND),
          pipeline_version: float64(),
          model: utf8(),
          check_failures: float64(),
          latency_ms: float64(),
          'in.x': list(float64()),
        },
      },
    )
    const folder = join(dir, 'logs', 'default', 'p')
    mkdirSync(folder, { recursive: true })
    writeFileSync(join(folder, `seg-1-${T}-${T}.arrow`), tableToIPC(old, { format: 'file' }) as Uint8Array)

    const log = await InferenceLog.open(dir, { ...TEST_LOG_CONFIG, rollBytes: 1 }, silentLogger)
    log.append({
      time: T + 1000,
      workspace: 'default',
      pipeline: 'p',
      pipelineVersion: 2,
      model: 'm:2',
      rows: 1,
      inputs: { x: tensor('int64', [1, 2], [9007199254740993n, -1n]) },
      outputs: {},
      rowModels: ['m:2'],
      checkFailures: Int32Array.of(0),
      shadow: {},
      latencyMs: 2,
    })
    await log.flush()
    const rows = await log.query('default', 'p')
    expect(rows.map((r) => r['in.x'])).toEqual([
      [15360, 2 ** 63],
      [9007199254740993n, -1],
    ])
    const page = await log.page('default', 'p', { format: 'arrow' })
    const table = tableFromIPC(page.body, { useBigInt: true })
    // One column typed float64 in one segment and int64 in the other: answered as float64, which holds both.
    expect(table.schema.fields.find((f) => f.name === 'in.x')?.type).toMatchObject({ typeId: Type.List })
    expect(Array.from(table.getChild('in.x')?.toArray() ?? [], (v) => Array.from(v as Float64Array))).toEqual([
      [15360, 2 ** 63],
      [9007199254740992, -1],
    ])
    expect(Array.from(await log.values('default', 'p', 'in.x[0]'))).toEqual([15360, 9007199254740992])
    await log.close()
  })
})

describe('an inference log column that changed kind between pipeline versions', () => {
  const dir = tempDir()
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('answers it as Arrow utf8, each value as its JSON text, and as JSON unchanged', async () => {
    const log = await InferenceLog.open(dir, TEST_LOG_CONFIG, silentLogger)
    const T = Date.now()
    const rec = (time: number, y: AnyTensor) => ({
      time,
      workspace: 'default',
      pipeline: 'p',
      pipelineVersion: 1,
      model: 'm:1',
      rows: 1,
      inputs: {},
      outputs: { y },
      rowModels: ['m:1'],
      checkFailures: Int32Array.of(0),
      shadow: {},
      latencyMs: 1,
    })
    log.append(rec(T, tensor('int64', [1], [9007199254740993n])))
    log.append(rec(T + 1, tensor('float32', [1, 2], [0.5, -1])))
    log.append(rec(T + 2, { dtype: 'string', dims: [1], data: ['a"b'] }))
    await log.flush()
    const page = await log.page('default', 'p', { format: 'arrow' })
    const table = tableFromIPC(page.body)
    expect(table.schema.fields.find((f) => f.name === 'out.y')?.type).toMatchObject({ typeId: Type.Utf8 })
    expect(table.getChild('out.y')?.toArray()).toEqual(['9007199254740993', '[0.5,-1]', '"a\\"b"'])
    const json = new TextDecoder().decode((await log.page('default', 'p', { format: 'json' })).body)
    expect(json).toContain('"out.y":9007199254740993}')
    expect(json).toContain('"out.y":[0.5,-1]}')
    await log.close()
  })
})
