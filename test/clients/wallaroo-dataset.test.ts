/**
 * Wallaroo's `dataset` query on the pandas-records route (the SDK's `Deployment._init_infer_params`
 * sends `dataset[]`, `dataset.exclude[]` and `dataset.separator`; the engine's OpenAPI document adds
 * `dataset.flatten`): fields and keys picked and left out, nested or flattened with any separator,
 * and a 400 naming what is valid for each query that cannot be answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { doubler, spec, testServer } from '../helpers/server.js'

const RECORDS = 'application/json; format=pandas-records'
const post = (body: string) => ({ method: 'POST', body, headers: { 'content-type': RECORDS } })

describe('lays answers out as the dataset query asks, as the engine does', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer()
    await s.deps.manager.deploy(spec('double', doubler(3)))
  })
  afterAll(() => s.shutdown())

  const ask = async (query: string) => {
    const res = await s.app.request(
      `/v1/workspaces/default/pipelines/double/infer?${query}`,
      post(JSON.stringify([{ x: [1, 2, 3] }, { x: [-1, 0.5, 4] }])),
    )
    const body = (await res.json()) as unknown
    return { status: res.status, body }
  }
  /** The error message of either body this route answers in (Wallaroo's engine's for the SDK's query). */
  const message = (body: unknown) => {
    const { error } = body as { error: string | { message: string } }
    return typeof error === 'string' ? error : error.message
  }

  it('picks fields and keys, and joins names with any separator', async () => {
    const { status, body } = await ask('dataset[]=out.y&dataset[]=metadata.elapsed&dataset.separator=__')
    expect(status).toBe(200)
    const rows = body as Array<Record<string, unknown>>
    expect(Object.keys(rows[1] ?? {})).toEqual(['out__y', 'metadata__elapsed'])
    expect(rows[1]?.out__y).toEqual([-2, 1, 8])
  })

  it('drops excluded fields and keys, nested without a separator', async () => {
    const { body } = await ask(
      'dataset[]=*&dataset.exclude[]=in&dataset.exclude[]=metadata.elapsed&dataset.exclude[]=metadata.last_model',
    )
    const [row] = body as Array<Record<string, unknown>>
    expect(Object.keys(row ?? {})).toEqual(['time', 'out', 'check_failures', 'metadata'])
    expect(row?.metadata).toEqual({ pipeline_version: '1', model: 'double:1' })
  })

  it("answers the newer engine's anomaly.count when asked, and a field given whole beats its keys", async () => {
    const { body } = await ask('dataset[]=anomaly&dataset[]=in.x&dataset[]=in&dataset.flatten=true')
    expect(body).toEqual([
      { 'in.x': [1, 2, 3], 'anomaly.count': 0 },
      { 'in.x': [-1, 0.5, 4], 'anomaly.count': 0 },
    ])
  })

  it('reads an empty value as none: dataset.separator= answers nested', async () => {
    const { body } = await ask('dataset[]=out&dataset.separator=')
    expect((body as unknown[])[0]).toEqual({ out: { y: [2, 4, 6] } })
  })

  it('lays the answer out by the outputs of the version that answered, after a hot swap mid-body', async () => {
    const g = new GraphBuilder('negate')
    const x = g.input('x', 'float32', ['N', 3])
    g.output(g.node('Neg', [x]), 'float32', ['N', 3], 'z')
    const chunks = new TransformStream<Uint8Array, Uint8Array>()
    const send = chunks.writable.getWriter()
    const pending = s.app.request('/v1/workspaces/default/pipelines/double/infer?dataset[]=out', {
      method: 'POST',
      body: chunks.readable,
      headers: { 'content-type': RECORDS },
      duplex: 'half',
    } as RequestInit)
    void send.write(new TextEncoder().encode('[{"x": [1, 2, '))
    // The request was routed to version 1 (output y); version 2 (output z) takes over before its body ends.
    await s.deps.manager.deploy(spec('double', g.toModel(), { pipelineVersion: 2 }))
    void send.write(new TextEncoder().encode('3]}]'))
    void send.close()
    const res = await pending
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual([{ out: { z: [-1, -2, -3] } }])
    await s.deps.manager.deploy(spec('double', doubler(3), { pipelineVersion: 3 }))
  })

  const refused: Array<[string, RegExp]> = [
    [
      'dataset[]=bogus',
      /dataset\[\] 'bogus' is not a field of the answer; expected \*, time, in, out, check_failures, anomaly, metadata/,
    ],
    ['dataset[]=out.z&dataset.separator=.', /dataset\[\] 'out\.z': out has no key 'z'; its keys are y/],
    [
      'dataset[]=*&dataset.exclude[]=metadata.sha',
      /metadata has no key 'sha'; its keys are last_model, pipeline_version, elapsed, model/,
    ],
    ['dataset[]=time.x', /dataset\[\] 'time\.x': time has no keys/],
    [`dataset.separator=${'-'.repeat(17)}`, /dataset\.separator must be 1 to 16 characters/],
    ['dataset.flatten=yes', /dataset\.flatten/],
    ['dataset[]=time&dataset.exclude[]=time', /the dataset query selects nothing/],
  ]
  for (const [query, expected] of refused) {
    it(`answers 400 for ?${query}`, async () => {
      const { status, body } = await ask(query)
      expect(status).toBe(400)
      expect(message(body)).toMatch(expected)
    })
  }
})
