/**
 * What a deploy leaves out: a deployed pipeline keeps its engine, batching, replicas and
 * non_finite_inputs through a redeploy, a rollback, a hot swap and a restart; a field given
 * replaces its value; `reset` (or an undeploy first) gives the left-out fields their defaults.
 * Before, every deploy without a field reset it, so `--replicas 2` turned a `pass` pipeline back
 * to `refuse`. Through the server's routes, the typed client and the CLI.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeploymentStatus, LastmileClient } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { cliBuilt, clientFor, doubler, post, runCli, tempDir, testConfig, testServer } from '../helpers/server.js'

/** The settings a status shows, as one object to compare. */
const settings = (s: DeploymentStatus) => ({
  version: s.pipeline_version,
  backend: s.backend,
  replicas: s.replicas,
  max_batch_size: s.batching.max_batch_size,
  timeout_ms: s.batching.timeout_ms,
  non_finite_inputs: s.non_finite_inputs,
})

/** The defaults, by the README: cpu (the test server's backend), one replica, 256 rows, 30 s, refuse. */
const DEFAULTS = { backend: 'cpu', replicas: 1, max_batch_size: 256, timeout_ms: 30_000, non_finite_inputs: 'refuse' }

/** A JSON null (NaN) in row 0: 200 where the pipeline passes it, 400 where it refuses it. */
const nanRequest = post({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [null, 1] }] })

describe('deploy settings through the server', () => {
  const dataDir = tempDir()
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient
  beforeAll(async () => {
    s = await testServer({ dataDir })
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'd', doubler())
    await lm.putPipeline('default', 'd', [{ model: 'd' }])
    await lm.putPipeline('default', 'd', [{ model: 'd' }]) // version 2
  })
  afterAll(() => s?.shutdown())

  const custom = { backend: 'wasm', replicas: 2, max_batch_size: 7, timeout_ms: 30_000, non_finite_inputs: 'pass' }

  it('keeps every deployed setting a redeploy leaves out, and changes the one it gives', async () => {
    const first = await lm.deploy('default', 'd', {
      engine: 'wasm',
      batching: { max_batch_size: 7 },
      replicas: 2,
      non_finite_inputs: 'pass',
    })
    expect(settings(first)).toEqual({ version: 2, ...custom })
    expect(settings(await lm.deploy('default', 'd', { replicas: 3 }))).toEqual({ version: 2, ...custom, replicas: 3 })
    expect((await s.app.request('/v2/models/d/infer', nanRequest)).status).toBe(200)
    expect(settings(await lm.deploy('default', 'd', { replicas: 2 }))).toEqual({ version: 2, ...custom })
  })

  it('keeps them through a rollback and a hot swap', async () => {
    expect(settings(await lm.deploy('default', 'd', { version: 1 }))).toEqual({ version: 1, ...custom })
    const put = await lm.putPipeline('default', 'd', [{ model: 'd' }]) // version 3, deployed at once
    expect([put.version, put.deployed]).toEqual([3, true])
    expect(settings(await lm.deployment('default', 'd'))).toEqual({ version: 3, ...custom })
  })

  it('keeps them through a restart (the store holds what runs, not the last request)', async () => {
    await s.shutdown()
    s = await testServer({ dataDir })
    lm = clientFor(s.app)
    expect(settings(await lm.deployment('default', 'd'))).toEqual({ version: 3, ...custom })
    expect((await s.app.request('/v2/models/d/infer', nanRequest)).status).toBe(200)
  })

  it('batching given replaces the deployed batching whole: `{}` is every default', async () => {
    const next = await lm.deploy('default', 'd', { batching: { timeout_ms: 5000 } })
    expect(settings(next)).toEqual({ version: 3, ...custom, max_batch_size: 256, timeout_ms: 5000 })
    expect(settings(await lm.deploy('default', 'd', { batching: {} }))).toEqual({
      version: 3,
      ...custom,
      max_batch_size: 256,
    })
  })

  it('reset gives every left-out setting its default; undeploying forgets them too', async () => {
    await lm.deploy('default', 'd', { batching: { max_batch_size: 7 } })
    const reset = await lm.deploy('default', 'd', { reset: true, replicas: 2 })
    expect(settings(reset)).toEqual({ version: 3, ...DEFAULTS, replicas: 2 })
    expect((await s.app.request('/v2/models/d/infer', nanRequest)).status).toBe(400)
    await lm.deploy('default', 'd', { non_finite_inputs: 'pass', engine: 'wasm' })
    await lm.undeploy('default', 'd')
    expect(settings(await lm.deploy('default', 'd'))).toEqual({ version: 3, ...DEFAULTS })
  })

  it('refuses stored settings that no longer parse, naming reset, and reset replaces them', async () => {
    await s.deps.store.deployments.put({
      workspace: 'default',
      pipeline: 'd',
      version: 3,
      config: { replicas: 'many' },
      deployedAt: new Date().toISOString(),
    })
    const res = await s.app.request('/v1/workspaces/default/pipelines/d/deploy', post({ replicas: 2 }))
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('invalid_config')
    expect(body.error.message).toMatch(/deployed settings stored for this pipeline are not valid.*"reset": true/)
    expect(settings(await lm.deploy('default', 'd', { reset: true }))).toEqual({ version: 3, ...DEFAULTS })
  })
})

describe.runIf(cliBuilt)(
  `lastmile pipelines deploy: non-finite inputs and kept settings${cliBuilt ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    let server: RunningServer
    beforeAll(async () => {
      server = await startServer(testConfig(), { log: silentLogger })
    })
    afterAll(() => server?.close())

    // spawnSync would block the event loop this server runs on: run the CLI asynchronously.
    const lastmile = async (...args: string[]) => {
      const r = await runCli(args, { LASTMILE_URL: server.url })
      expect(r.code, r.stderr).toBe(0)
      return settings(JSON.parse(r.stdout) as DeploymentStatus)
    }

    it('sets --non-finite-inputs, keeps it through --replicas and --pipeline-version, and --reset resets', async () => {
      const model = join(tempDir(), 'double.onnx')
      writeFileSync(model, doubler())
      expect((await runCli(['models', 'upload', model], { LASTMILE_URL: server.url })).code).toBe(0)
      for (let i = 0; i < 2; i++)
        await runCli(['pipelines', 'create', 'double', '--steps', '[{"model":"double"}]'], { LASTMILE_URL: server.url })
      const pass = { ...DEFAULTS, non_finite_inputs: 'pass' }
      expect(await lastmile('pipelines', 'deploy', 'double', '--non-finite-inputs', 'pass')).toEqual({
        version: 2,
        ...pass,
      })
      expect(await lastmile('pipelines', 'deploy', 'double', '--replicas', '2')).toEqual({
        version: 2,
        ...pass,
        replicas: 2,
      })
      expect(await lastmile('pipelines', 'deploy', 'double', '--pipeline-version', '1')).toEqual({
        version: 1,
        ...pass,
        replicas: 2,
      })
      expect(await lastmile('pipelines', 'deploy', 'double', '--reset')).toEqual({ version: 2, ...DEFAULTS })
      const bad = await runCli(['pipelines', 'deploy', 'double', '--non-finite-inputs', 'drop'], {
        LASTMILE_URL: server.url,
      })
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/invalid_request \(HTTP 400\): deploy: non_finite_inputs: .*"refuse"\|"pass"/)
    })
  },
)

describe('autoscaling in a deploy', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient
  beforeAll(async () => {
    s = await testServer()
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'a', doubler())
    await lm.putPipeline('default', 'a', [{ model: 'a' }])
  })
  afterAll(() => s?.shutdown())

  const deploy = (body: unknown) => s.app.request('/v1/workspaces/default/pipelines/a/deploy', post(body))
  const refusal = async (body: unknown) => {
    const res = await deploy(body)
    return { status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error }
  }

  it('fills the defaults, starts at min_replicas and keeps the settings through a redeploy', async () => {
    const st = await lm.deploy('default', 'a', { autoscaling: { min_replicas: 2, max_replicas: 5 } })
    expect(st.replicas).toBe(2)
    // The defaults the README lists beside Knative's.
    expect(st.autoscaling?.config).toEqual({
      min_replicas: 2,
      max_replicas: 5,
      target_in_flight: 8,
      target_utilization: 0.7,
      stable_window_s: 60,
      panic_window_s: 6,
      panic_threshold: 2,
      scale_down_delay_s: 0,
    })
    expect(st.autoscaling).toMatchObject({ desired_replicas: 2, in_flight: 0, panic: false, decisions: [] })
    const again = await lm.deploy('default', 'a', { non_finite_inputs: 'pass' })
    expect(again.autoscaling?.config).toMatchObject({ min_replicas: 2, max_replicas: 5 })
    expect(again.non_finite_inputs).toBe('pass')
  })

  it('a fixed replicas given replaces autoscaling, and autoscaling given replaces replicas', async () => {
    const fixed = await lm.deploy('default', 'a', { replicas: 3 })
    expect([fixed.replicas, fixed.autoscaling]).toEqual([3, null])
    const auto = await lm.deploy('default', 'a', { autoscaling: { max_replicas: 2 } })
    // It starts at the count it replaces, within its range.
    expect([auto.replicas, auto.autoscaling?.config.min_replicas]).toEqual([2, 1])
    expect((await lm.deploy('default', 'a', { reset: true })).autoscaling).toBeNull()
  })

  it('refuses both at once, a range upside down, and a missing max_replicas, naming the field', async () => {
    expect(await refusal({ replicas: 2, autoscaling: { max_replicas: 4 } })).toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: expect.stringMatching(/^deploy: autoscaling: give either replicas .* or autoscaling .*, not both$/),
    })
    expect(await refusal({ autoscaling: { min_replicas: 5, max_replicas: 4 } })).toMatchObject({
      status: 400,
      message: 'deploy: autoscaling.min_replicas: min_replicas must not exceed max_replicas',
    })
    expect((await refusal({ autoscaling: {} })).message).toMatch(/^deploy: autoscaling\.max_replicas: /)
    expect((await refusal({ autoscaling: { max_replicas: 65 } })).message).toMatch(/autoscaling\.max_replicas: .*64/)
    expect((await refusal({ autoscaling: { max_replicas: 4, tick: 1 } })).message).toMatch(/tick/)
  })
})
