/**
 * A real lastmile HTTP server for the inference fuzzers (port 0, cpu backend, temp data folder,
 * no demo) with pipelines whose inputs cover several dtypes, a `send` that fails a case on a 5xx,
 * a dropped connection or an answer slower than CASE_TIMEOUT_MS, and a known-good request
 * checked against values computed here.
 */
import { rmSync } from 'node:fs'
import { expect } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, spec, testConfig } from '../helpers/server.js'
import { CASE_TIMEOUT_MS } from './budget.js'

/**
 * `mixed`: a float32 [N,3], b int64 [N], c bool [N,2] → ya = 3·a (float32), yb = float(b),
 * yc = int32(c): every output row names its input row, for each dtype.
 */
function mixed(): Uint8Array {
  const g = new GraphBuilder('mixed')
  const a = g.input('a', 'float32', ['N', 3])
  const b = g.input('b', 'int64', ['N'])
  const c = g.input('c', 'bool', ['N', 2])
  g.output(g.node('Mul', [a, g.constant('three', 'float32', [1], [3])]), 'float32', ['N', 3], 'ya')
  g.output(g.node('Cast', [b], { to: 1 }), 'float32', ['N'], 'yb')
  g.output(g.node('Cast', [c], { to: 6 }), 'int32', ['N', 2], 'yc')
  return g.toModel()
}

/** The pipelines the fuzzers aim at: `double` (x float32 [N,2] → y = 2·x) and `mixed`. */
export const PIPELINES = ['double', 'mixed'] as const

/** A status and the body that came with it. */
interface Answer {
  status: number
  body: Uint8Array
}

export interface FuzzServer {
  url: string
  /** POST a body; fails the case on a 5xx, a dropped connection or a hang. */
  send(path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Answer>
  /** A known-good request on each pipeline answers the values computed here. */
  expectCorrect(): Promise<void>
  close(): Promise<void>
}

/** Start the server and deploy the fuzzers' pipelines. */
export async function fuzzServer(over: Parameters<typeof testConfig>[0] = {}): Promise<FuzzServer> {
  const config = testConfig(over)
  let server: RunningServer | undefined
  try {
    server = await startServer(config)
    await server.deps.manager.deploy(spec('double', doubler(2)))
    await server.deps.manager.deploy(spec('mixed', mixed()))
  } catch (e) {
    await server?.close()
    rmSync(config.dataDir, { recursive: true, force: true })
    throw e
  }
  const running = server
  const send = async (path: string, body: Uint8Array | string, headers: Record<string, string>) => {
    const res = await fetch(`${running.url}${path}`, {
      method: 'POST',
      body,
      headers,
      signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
    })
    const answer = { status: res.status, body: new Uint8Array(await res.arrayBuffer()) }
    if (res.status >= 500)
      throw new Error(`${path} answered ${res.status}: ${new TextDecoder().decode(answer.body.subarray(0, 300))}`)
    return answer
  }
  return {
    url: running.url,
    send,
    async expectCorrect() {
      const x = [1.5, -2, 3, 0.25]
      const oip = await fetch(`${running.url}/v2/models/double/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: x }] }),
        signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
      })
      expect(oip.status).toBe(200)
      const y = ((await oip.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data
      expect(y).toEqual(x.map((v) => 2 * v))
      const records = await fetch(`${running.url}/v1/workspaces/default/pipelines/mixed/infer?dataset.separator=.`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; format=pandas-records' },
        body: JSON.stringify([
          { a: [1, 2, 3], b: 7, c: [true, false] },
          { a: [-1, 0.5, 0], b: -4, c: [false, true] },
        ]),
        signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
      })
      expect(records.status).toBe(200)
      const rows = (await records.json()) as Array<Record<string, unknown>>
      expect(rows.map((r) => [r['out.ya'], r['out.yb'], r['out.yc']])).toEqual([
        [[3, 6, 9], 7, [1, 0]],
        [[-3, 1.5, 0], -4, [0, 1]],
      ])
    },
    async close() {
      await running.close()
      rmSync(config.dataDir, { recursive: true, force: true })
    },
  }
}
