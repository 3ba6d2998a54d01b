/**
 * pandas-records through the server: a later record that lacks an input, or whose tensor is
 * shorter than the first record's, is a 400 naming the record, never a row filled from record 0.
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { clientFor, tempDir, testServer } from '../helpers/server.js'

/** y = x · w for x, w float32 [N, 2]: every answer row depends on both of its record's inputs. */
function product(): Uint8Array {
  const g = new GraphBuilder('product')
  const x = g.input('x', 'float32', ['N', 2])
  const w = g.input('w', 'float32', ['N', 2])
  g.output(g.node('Mul', [x, w]), 'float32', ['N', 2], 'y')
  return g.toModel()
}

describe('pandas-records rows after the first', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const dataDir = tempDir()
  const infer = (records: unknown) =>
    s.app.request('/v1/workspaces/default/pipelines/product/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/json; format=pandas-records' },
      body: JSON.stringify(records),
    })
  beforeAll(async () => {
    s = await testServer({ dataDir })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'product', product())
    await lm.putPipeline('default', 'product', [{ model: 'product' }])
    await lm.deploy('default', 'product')
  })
  afterAll(async () => {
    await s.shutdown()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('answers each record from its own inputs', async () => {
    const res = await infer([
      { x: [1, 2], w: [3, 4] },
      { x: [5, 6], w: [-1, 0.5] },
    ])
    expect(res.status).toBe(200)
    const rows = (await res.json()) as Array<{ out: { y: number[] } }>
    expect(rows.map((r) => r.out.y)).toEqual([
      [3, 8],
      [-5, 3],
    ])
  })

  it('refuses a later record that lacks an input with a 400 naming the record', async () => {
    const res = await infer([{ x: [1, 2], w: [3, 4] }, { x: [5, 6], w: [1, 1] }, { x: [7, 8] }])
    expect(res.status).toBe(400)
    expect(JSON.stringify(await res.json())).toContain("record 2: missing input 'w'")
  })

  it('refuses a later record whose tensor is shorter than the first', async () => {
    const res = await infer([
      { x: [1, 2], w: [3, 4] },
      { x: [5], w: [1, 1] },
    ])
    expect(res.status).toBe(400)
    expect(JSON.stringify(await res.json())).toMatch(/ragged data at \[1\]: 1 items, expected 2/)
  })
})
