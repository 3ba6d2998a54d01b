/**
 * Uploaded models cannot read files: the attack from issue #12 rebuilt (a model whose
 * initializer's external data points at another workspace's inference log, the database,
 * package.json or an absolute path) is refused at upload with a 400 naming the tensor and the
 * file, and an artifact stored before the check existed is refused at deploy and at restore.
 */
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiError } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { ArtifactStore } from '../../src/store/artifacts.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { logisticRegression, mlpClassifier } from '../fixtures/models.js'
import { clientFor, doubler, testConfig } from '../helpers/server.js'
import { externalTensor, identityModel, ifModel } from '../onnx/crafted.js'

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError)
    return e as ApiError
  }
  throw new Error('expected the call to fail')
}

const servers: { shutdown(): Promise<void> }[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown()
})

async function serve(config = testConfig()) {
  const built = await buildServer(config, { log: silentLogger })
  servers.push(built)
  return { built, lm: clientFor(built.app), config }
}

/** Every file under `dir`, depth first. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  )
}

describe('self-contained models at upload', () => {
  it('refuses external data pointing at another workspace’s log, the database, package.json, an absolute path', async () => {
    const { built, lm, config } = await serve()
    // Another tenant with a deployed pipeline and logged requests.
    await lm.createWorkspace('acme')
    await lm.uploadModel('acme', 'double', doubler(2))
    await lm.putPipeline('acme', 'double', [{ model: 'double' }])
    await lm.deploy('acme', 'double')
    await lm.inferRecords('acme', 'double', [{ x: [1, 2] }, { x: [3, 4] }])
    await built.deps.inferenceLog.flush()
    const segment = files(join(config.dataDir, 'logs', 'acme')).find((f) => statSync(f).size > 0)
    expect(segment, 'the other workspace has a log file to steal').toBeDefined()

    const targets = [
      relative(process.cwd(), segment as string), // how onnxruntime would resolve it: against the cwd
      relative(process.cwd(), join(config.dataDir, 'lastmile.db')),
      '../lastmile.db',
      'package.json',
      '/etc/passwd',
    ]
    for (const location of targets) {
      const e = await apiError(lm.uploadModel('default', 'thief', identityModel(externalTensor(location, 64, 'loot'))))
      expect([e.status, e.code], location).toEqual([400, 'invalid_model'])
      expect(e.message).toContain("tensor 'loot' (model.graph.initializer[0]) keeps its data in an external file")
      expect(e.message).toContain(`('${location}')`)
      expect(e.details).toEqual({ tensor: 'loot', at: 'model.graph.initializer[0]', location })
    }
    expect((await lm.listModels('default')).map((m) => m.name)).not.toContain('thief')
  })

  it('refuses external data hidden in an If branch', async () => {
    const { lm } = await serve()
    const e = await apiError(lm.uploadModel('default', 'branchy', ifModel(externalTensor('package.json', 8, 'hidden'))))
    expect([e.status, e.code]).toEqual([400, 'invalid_model'])
    expect(e.details).toEqual({
      tensor: 'hidden',
      at: "model.graph.node[0](If).attribute 'then_branch'.g.initializer[0]",
      location: 'package.json',
    })
  })

  it('still uploads, deploys and serves normal models', async () => {
    const { lm } = await serve()
    expect(await lm.uploadModel('default', 'mlp', mlpClassifier().bytes)).toMatchObject({ version: 1, created: true })
    expect(await lm.uploadModel('default', 'logreg', logisticRegression().bytes)).toMatchObject({ created: true })
    await lm.uploadModel('default', 'double', doubler(2))
    await lm.putPipeline('default', 'double', [{ model: 'double' }])
    await lm.deploy('default', 'double')
    expect((await lm.inferRecords('default', 'double', [{ x: [1.5, -2] }]))[0]?.['out.y']).toEqual([3, -4])
  })
})

describe('artifacts stored before the check', () => {
  /** Store an external-data model the way an older server would have: artifact, version, pipeline. */
  async function plant(dataDir: string, deployed: boolean): Promise<void> {
    const bytes = identityModel(externalTensor('package.json', 16, 'old_loot'))
    const store = SqliteStore.open(dataDir)
    const artifacts = await ArtifactStore.open(dataDir)
    const sha256 = await artifacts.put(bytes)
    await store.models.add({
      workspace: 'default',
      name: 'old',
      sha256,
      size: bytes.length,
      inputs: [],
      outputs: [],
    })
    const p = await store.pipelines.add('default', 'old', [{ model: 'old:1' }])
    if (deployed) {
      await store.deployments.put({
        workspace: 'default',
        pipeline: 'old',
        version: p.version,
        config: {},
        deployedAt: new Date().toISOString(),
      })
    }
    await store.close()
  }

  it('refuses to deploy one, naming the model, the tensor and the file', async () => {
    const config = testConfig()
    await plant(config.dataDir, false)
    const { lm } = await serve(config)
    const e = await apiError(lm.deploy('default', 'old'))
    expect([e.status, e.code]).toEqual([400, 'invalid_model'])
    expect(e.message).toContain("stored model 'old' version 1 is refused: tensor 'old_loot'")
    expect(e.details).toMatchObject({ tensor: 'old_loot', location: 'package.json' })
    const pin = await apiError(lm.putPipeline('default', 'again', [{ model: 'old' }]))
    expect([pin.status, pin.code]).toEqual([400, 'invalid_model'])
  })

  it('leaves one undeployed at restore while the server starts and serves the rest', async () => {
    const config = testConfig()
    await plant(config.dataDir, true)
    const { lm } = await serve(config)
    expect(await lm.ready()).toMatchObject({ ready: true })
    await apiError(lm.deployment('default', 'old'))
    await lm.uploadModel('default', 'double', doubler(1))
    await lm.putPipeline('default', 'double', [{ model: 'double' }])
    await lm.deploy('default', 'double')
    expect((await lm.inferRecords('default', 'double', [{ x: [21] }]))[0]?.['out.y']).toEqual([42])
  })
})
