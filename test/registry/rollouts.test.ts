/**
 * Rollout steps route as specified, with fixed seeds and keys: random_split by weight and by hash
 * key (a key always lands on the same model), key_split, shadow (the champion answers, the
 * challengers are logged), several models on one input, chained models, and validations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { clientFor, testServer } from '../helpers/server.js'

/** y = k·x for x float32 [N, 1]: the answer names the model. */
function times(k: number, input = 'x', output = 'y'): Uint8Array {
  const g = new GraphBuilder(`times${k}`)
  const x = g.input(input, 'float32', ['N', 1])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [k])]), 'float32', ['N', 1], output)
  return g.toModel()
}

describe('rollout steps', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: ReturnType<typeof clientFor>
  const ys = (rows: Array<Record<string, unknown>>) => rows.map((r) => (r['out.y'] as number[])[0])
  beforeAll(async () => {
    s = await testServer()
    lm = clientFor(s.app)
    for (const k of [1, 2, 3, 10]) await lm.uploadModel('default', `m${k}`, times(k))
    await lm.uploadModel('default', 'plus', times(100, 'y', 'z'))
  })
  afterAll(() => s.shutdown())

  it('random_split by hash_key: each key always lands on the same model, in proportion to the weights', async () => {
    await lm.putPipeline('default', 'canary', [
      {
        random_split: {
          weights: [
            [90, 'm1'],
            [10, 'm2'],
          ],
          hash_key: 'customer',
        },
      },
    ])
    await lm.deploy('default', 'canary')
    const records = Array.from({ length: 2000 }, (_, i) => ({ x: [1], customer: `c-${i}` }))
    const first = await lm.inferRecords('default', 'canary', records)
    const second = await lm.inferRecords('default', 'canary', [...records].reverse())
    expect(ys(second).reverse()).toEqual(ys(first)) // deterministic per key, any order
    const share = ys(first).filter((y) => y === 2).length / records.length
    expect(share).toBeGreaterThan(0.07)
    expect(share).toBeLessThan(0.13)
    expect(first[0]?.['metadata.model']).toMatch(/^m[12]:1$/)
    expect(first.every((r) => r['metadata.model'] === `m${(r['out.y'] as number[])[0]}:1`)).toBe(true)
  })

  it('random_split by hash_key puts each key where the documented FNV-1a rule does (a pinned table)', async () => {
    // The rule: FNV-1a 32-bit of the key's UTF-8 bytes / 2^32 · total weight, against the cumulative
    // weights. The table was computed once in Python 3 from the published algorithm (offset basis
    // 0x811c9dc5, prime 0x01000193): e.g. alice 0x872213e7 → 52.79% → m1, dave 0xd06cc5df → 81.42%
    // → m2, frank 0xf40ce5c3 → 95.33% → m3. A key moving model here means every deployment's
    // customers move after an upgrade.
    await lm.putPipeline('default', 'sticky', [
      {
        random_split: {
          weights: [
            [70, 'm1'],
            [20, 'm2'],
            [10, 'm3'],
          ],
          hash_key: 'customer',
        },
      },
    ])
    await lm.deploy('default', 'sticky')
    const table: Array<[string, number]> = [
      ['alice', 1],
      ['carol', 1],
      ['dave', 2],
      ['erin', 1],
      ['frank', 3],
      ['mallory', 2],
      ['niaj', 3],
      ['peggy', 1],
      ['sybil', 2],
      ['trent', 1],
    ]
    const answer = await lm.inferRecords(
      'default',
      'sticky',
      table.map(([customer]) => ({ x: [1], customer })),
    )
    expect(ys(answer)).toEqual(table.map(([, model]) => model))
  })

  it('random_split without a key follows unequal weights (90/10 over 10,000 rows)', async () => {
    await lm.putPipeline('default', 'unequal', [
      {
        random_split: {
          weights: [
            [90, 'm1'],
            [10, 'm2'],
          ],
          seed: 11,
        },
      },
    ])
    await lm.deploy('default', 'unequal')
    const answer = ys(
      await lm.inferRecords(
        'default',
        'unequal',
        Array.from({ length: 10_000 }, () => ({ x: [1] })),
      ),
    )
    // Binomial(10,000, 0.9) has a standard deviation of 0.3%: 85–95% is ±16 of them, for any seed.
    const first = answer.filter((y) => y === 1).length / answer.length
    expect(first).toBeGreaterThan(0.85)
    expect(first).toBeLessThan(0.95)
    expect(answer.every((y) => y === 1 || y === 2)).toBe(true)
  })

  it('random_split without a key is reproducible with a seed', async () => {
    await lm.putPipeline('default', 'ab', [
      {
        random_split: {
          weights: [
            [50, 'm1'],
            [50, 'm2'],
          ],
          seed: 7,
        },
      },
    ])
    await lm.deploy('default', 'ab')
    const records = Array.from({ length: 200 }, () => ({ x: [1] }))
    const a = ys(await lm.inferRecords('default', 'ab', records))
    await lm.deploy('default', 'ab') // a fresh deployment restarts the seeded sequence
    const b = ys(await lm.inferRecords('default', 'ab', records))
    expect(b).toEqual(a)
    expect(new Set(a)).toEqual(new Set([1, 2]))
  })

  it('key_split routes by value, with a default', async () => {
    await lm.putPipeline('default', 'regions', [
      { key_split: { key: 'region', options: { eu: 'm2', us: 'm3' }, default: 'm10' } },
    ])
    await lm.deploy('default', 'regions')
    const rows = await lm.inferRecords('default', 'regions', [
      { x: [1], region: 'us' },
      { x: [1], region: 'eu' },
      { x: [1], region: 'apac' },
      { x: [1], region: 'eu' },
    ])
    expect(ys(rows)).toEqual([3, 2, 10, 2])
    expect(rows.map((r) => r['metadata.model'])).toEqual(['m3:1', 'm2:1', 'm10:1', 'm2:1'])
    const oip = await lm.inferOip('regions', {
      inputs: [
        { name: 'x', shape: [2, 1], datatype: 'FP32', data: [1, 1] },
        { name: 'region', shape: [2], datatype: 'BYTES', data: ['eu', 'zz'] },
      ],
    })
    expect(oip.outputs.find((o) => o.name === 'y')?.data).toEqual([2, 10])
    // OIP parameters are strings, numbers or booleans: the per-row list travels as JSON text.
    expect(oip.parameters).toMatchObject({ models: '["m2:1","m10:1"]' })
  })

  it('shadow answers from the champion and logs the challengers as out_<model>.<output>', async () => {
    await lm.putPipeline('default', 'shadowed', [{ shadow: { champion: 'm1', challengers: ['m2', 'm3'] } }])
    await lm.deploy('default', 'shadowed')
    const before = s.records.length
    const rows = await lm.inferRecords('default', 'shadowed', [{ x: [5] }])
    expect(rows[0]).toMatchObject({ 'out.y': [5], 'metadata.model': 'm1:1' })
    expect(Object.keys(rows[0] ?? {}).some((k) => k.startsWith('out_'))).toBe(false)
    const rec = s.records[before]
    expect(Array.from(rec?.shadow['out_m2:1.y']?.data as Float32Array)).toEqual([10])
    expect(Array.from(rec?.shadow['out_m3:1.y']?.data as Float32Array)).toEqual([15])
  })

  it('runs several models on one input (outputs prefixed) and chains model steps', async () => {
    await lm.putPipeline('default', 'ensemble', [{ models: ['m2', 'm3'] }])
    await lm.deploy('default', 'ensemble')
    const [row] = await lm.inferRecords('default', 'ensemble', [{ x: [1] }])
    expect(row).toMatchObject({ 'out.m2.y': [2], 'out.m3.y': [3] })
    await lm.putPipeline('default', 'chain', [{ model: 'm2' }, { model: 'plus' }])
    await lm.deploy('default', 'chain')
    const [c] = await lm.inferRecords('default', 'chain', [{ x: [1] }])
    expect(c).toMatchObject({ 'out.y': [2], 'out.z': [200] })
  })

  it('counts failed validations per row without dropping rows', async () => {
    await lm.putPipeline('default', 'checked', [
      { model: 'm10' },
      { validations: { small: 'out.y[0] < 50', positive: 'in.x[0] >= 0' } },
    ])
    await lm.deploy('default', 'checked')
    const rows = await lm.inferRecords('default', 'checked', [{ x: [1] }, { x: [9] }, { x: [-1] }])
    expect(rows.map((r) => (r.check_failures as unknown[]).length)).toEqual([0, 1, 1])
    expect(ys(rows)).toEqual([10, 90, -10])
  })
})
