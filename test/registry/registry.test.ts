/**
 * The registry through its routes and the typed client: upload (versions, idempotency, bad ONNX),
 * pipelines (pinned versions, refusals), deploy, hot swap on PUT, rollback, undeploy, conflicts,
 * and deployments that come back after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { buildServer } from '../../src/server/serve.js'
import { logisticRegression, mlpClassifier } from '../fixtures/models.js'
import { clientFor, doubler, testConfig } from '../helpers/server.js'

/** y = k·x for x float32 [N, 2]. */
function times(k: number): Uint8Array {
  const g = new GraphBuilder(`times${k}`)
  const x = g.input('x', 'float32', ['N', 2])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [k])]), 'float32', ['N', 2], 'y')
  return g.toModel()
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError)
    return e as ApiError
  }
  throw new Error('expected the call to fail')
}

describe('registry', () => {
  const config = testConfig()
  let built: Awaited<ReturnType<typeof buildServer>>
  let lm: ReturnType<typeof clientFor>
  beforeAll(async () => {
    built = await buildServer(config, { log: silentLogger })
    lm = clientFor(built.app)
  })
  afterAll(() => built.shutdown())

  it('uploads models as versions 1, 2, … and answers the same version for the same bytes', async () => {
    const v1 = await lm.uploadModel('default', 'scale', times(2))
    expect(v1).toMatchObject({ name: 'scale', version: 1, created: true, size: times(2).length })
    expect(v1.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(v1.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 2] }])
    expect(v1.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 2] }])
    expect(await lm.uploadModel('default', 'scale', times(2))).toMatchObject({ version: 1, created: false })
    expect(await lm.uploadModel('default', 'scale', times(3))).toMatchObject({ version: 2, created: true })
    expect((await lm.getModel('default', 'scale')).versions.map((v) => v.version)).toEqual([1, 2])
    expect((await lm.getModelVersion('default', 'scale', 2)).sha256).not.toBe(v1.sha256)
    expect((await lm.listModels('default')).find((m) => m.name === 'scale')).toMatchObject({
      versions: 2,
      latest: { version: 2 },
    })
  })

  it('refuses bad uploads with the reason', async () => {
    const bad = await apiError(lm.uploadModel('default', 'junk', new TextEncoder().encode('not a model')))
    expect([bad.status, bad.code]).toEqual([400, 'invalid_model'])
    expect(bad.message).toMatch(/protobuf parsing failed/)
    expect((await apiError(lm.uploadModel('nowhere', 'm', times(2)))).status).toBe(404)
    expect((await apiError(lm.uploadModel('default', 'bad name!', times(2)))).status).toBe(400)
    expect((await apiError(lm.getModelVersion('default', 'scale', 9))).message).toMatch(
      /no version 9 of model 'scale' \(versions: 1, 2\)/,
    )
  })

  it('pins model versions in a pipeline, deploys it, and serves every protocol', async () => {
    const p = await lm.putPipeline('default', 'scaler', [{ model: 'scale' }])
    expect(p).toMatchObject({ version: 1, steps: [{ model: 'scale:2' }], deployed: false })
    const status = await lm.deploy('default', 'scaler')
    expect(status).toMatchObject({ pipeline: 'scaler', pipeline_version: 1, model: 'scale:2', state: 'ready' })
    const rows = await lm.inferRecords('default', 'scaler', [{ x: [1, 2] }])
    expect(rows[0]).toMatchObject({ 'out.y': [3, 6], 'metadata.model': 'scale:2' })
    const oip = await lm.inferOip('scaler', { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 1] }] })
    expect(oip.outputs[0]?.data).toEqual([3, 3])
    expect((await lm.getPipeline('default', 'scaler')).deployment?.state).toBe('ready')
  })

  it('hot-swaps a deployed pipeline on PUT, and rolls back to any version', async () => {
    const v2 = await lm.putPipeline('default', 'scaler', [{ model: 'scale:1' }])
    expect(v2).toMatchObject({ version: 2, deployed: true })
    expect((await lm.inferRecords('default', 'scaler', [{ x: [1, 2] }]))[0]?.['out.y']).toEqual([2, 4])
    await lm.deploy('default', 'scaler', { version: 1 })
    expect((await lm.deployment('default', 'scaler')).pipeline_version).toBe(1)
    expect((await lm.inferRecords('default', 'scaler', [{ x: [1, 2] }]))[0]?.['out.y']).toEqual([3, 6])
  })

  it('refuses pipelines that could not deploy, naming the step or model', async () => {
    expect((await apiError(lm.putPipeline('default', 'p', [{ model: 'ghost' }]))).message).toMatch(/no model 'ghost'/)
    expect((await apiError(lm.putPipeline('default', 'p', [{ model: 'scale:7' }]))).message).toMatch(/has no version 7/)
    expect((await apiError(lm.putPipeline('default', 'p', [{ modle: 'scale' }]))).message).toMatch(
      /step 0: unknown step type 'modle'/,
    )
    const pre = await apiError(
      lm.putPipeline('default', 'p', [{ pre: { tabular: { features: [{}, {}, {}] } } }, { model: 'scale' }]),
    )
    expect(pre.message).toMatch(/tabular step: produces 3 columns but model input 'x' expects \[N,2\]/)
    expect(
      (await apiError(lm.putPipeline('default', 'p', [{ model: 'scale' }, { validations: { v: 'out.y[0] <' } }])))
        .message,
    ).toMatch(/validation 'v'/)
    expect((await apiError(lm.getPipeline('default', 'p'))).status).toBe(404) // nothing was stored
  })

  it('refuses to delete what a deployment uses, then deletes after undeploy', async () => {
    expect((await apiError(lm.deleteModel('default', 'scale'))).status).toBe(409)
    expect((await apiError(lm.deletePipeline('default', 'scaler'))).status).toBe(409)
    await lm.createWorkspace('team')
    await lm.uploadModel('team', 'd', doubler(2))
    await lm.putPipeline('team', 'd', [{ model: 'd' }])
    await lm.deploy('team', 'd')
    expect((await apiError(lm.deleteWorkspace('team'))).message).toMatch(/has deployed pipelines \(d\)/)
    await lm.undeploy('team', 'd')
    expect((await apiError(lm.inferRecords('team', 'd', [{ x: [1, 2] }]))).status).toBe(404)
    await lm.deleteWorkspace('team')
    expect((await lm.listWorkspaces()).map((w) => w.name)).toEqual(['default'])
  })

  it('brings deployed pipelines back after a restart', async () => {
    await lm.uploadModel('default', 'lr', logisticRegression().bytes)
    await lm.putPipeline('default', 'lr', [{ model: 'lr' }, { post: { threshold: 0.5, labels: ['no', 'yes'] } }])
    await lm.deploy('default', 'lr', { batching: { max_batch_size: 8 }, engine: 'cpu' })
    await built.shutdown()
    built = await buildServer(config, { log: silentLogger })
    lm = clientFor(built.app)
    const status = await lm.deployment('default', 'lr')
    expect(status).toMatchObject({ pipeline_version: 1, state: 'ready', batching: { max_batch_size: 8 } })
    expect((await lm.deployment('default', 'scaler')).pipeline_version).toBe(1) // the rollback survived too
    const rows = await lm.inferRecords('default', 'lr', [{ x: new Array(12).fill(0.5) }])
    expect(['no', 'yes']).toContain(rows[0]?.['out.label_name'])
  })

  it('deploys replicas that answer concurrently', async () => {
    await lm.uploadModel('default', 'mlp', mlpClassifier().bytes)
    await lm.putPipeline('default', 'mlp', [{ model: 'mlp' }])
    expect(await lm.deploy('default', 'mlp', { replicas: 2 })).toMatchObject({ replicas: 2 })
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => lm.inferRecords('default', 'mlp', [{ x: new Array(16).fill(0.1) }])),
    )
    expect(new Set(answers.map((a) => JSON.stringify(a[0]?.['out.probs']))).size).toBe(1)
  })
})
