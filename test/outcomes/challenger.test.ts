/**
 * Champion vs challenger on a real server, with known answers. Two binary classifiers of x [N, 2]:
 * `sharp` predicts class 1 when x₀ > 0 (p = sigmoid(4·x₀)), `blurred` when x₀ + x₁ > 0, and `mirror`
 * when x₀ − x₁ > 0. The truth, posted as feedback by request id and row, is x₀ > 0 with one row in
 * ten flipped (seeded): `sharp` is right 90% of the time, `blurred` and `mirror` about 70% (equal, by
 * the symmetry of x₁). A challenger is deployed as a canary through the API, traffic is sent, and
 * the evaluator is ticked as if an interval had passed each time (its clock, no wall-clock waits):
 * - a better challenger is promoted: a version with it alone, deployed; the decision stored with its
 *   evidence and POSTed to a webhook receiver on loopback (the outbound policy opened to it);
 * - a better shadow is compared on the rows both predicted (paired), and promoted;
 * - equal arms: nothing is promoted;
 * - a worse challenger, not yet judged, is rolled back by the next evaluation after an assay alert;
 * - and what is refused, with 400s (404, 409) that say why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { mulberry32 } from '../../src/random.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, post, testConfig } from '../helpers/server.js'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'

const INTERVAL_MS = 60_000

/** p(class 1) = sigmoid(4·(x₀·w₀ + x₁·w₁)) of x [N, 2], as `prob` [N, 1]. */
function classifier(w0: number, w1: number): Uint8Array {
  const g = new GraphBuilder('binary')
  const x = g.input('x', 'float32', ['N', 2])
  const z = g.node('MatMul', [x, g.constant('w', 'float32', [2, 1], [4 * w0, 4 * w1])])
  g.output(g.node('Sigmoid', [z]), 'float32', ['N', 1], 'prob')
  return g.toModel()
}

const put = (body: unknown) => ({ ...post(body), method: 'PUT' })

describe('champion vs challenger on a server', () => {
  let s: BuiltServer
  let hook: WebhookReceiver
  /** The evaluator's clock: an interval further at each tick. */
  let clock = Date.now() + 3_600_000
  const tick = async () => {
    clock += INTERVAL_MS
    await s.deps.promotion.tick(clock)
    await s.deps.promotion.idle()
  }

  beforeAll(async () => {
    hook = await startWebhookReceiver('/promotions')
    s = await buildServer(testConfig({ outbound: { allowLocal: true } }), { log: silentLogger })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'sharp', classifier(1, 0))
    await lm.uploadModel('default', 'blurred', classifier(1, 1))
    await lm.uploadModel('default', 'mirror', classifier(1, -1))
  })
  afterAll(async () => {
    await s.shutdown()
    await hook.close()
  })

  /** A deployed pipeline of `champion`, with outcome settings and `challenger` as a 50/50 canary. */
  async function contest(pipeline: string, champion: string, challenger: string, mode: 'canary' | 'shadow' = 'canary') {
    const lm = clientFor(s.app)
    await lm.putPipeline('default', pipeline, [{ model: champion }])
    await lm.deploy('default', pipeline)
    const spec = await s.app.request(
      `/v1/workspaces/default/pipelines/${pipeline}/outcomes`,
      put({ task: 'classification', output: 'prob' }),
    )
    expect(spec.status).toBe(200)
    const deployed = await lm.deployChallenger('default', pipeline, { model: challenger, mode, weight: 50 })
    expect(deployed.steps).toEqual([
      mode === 'shadow'
        ? { shadow: { champion: `${champion}:1`, challengers: [`${challenger}:1`] } }
        : {
            random_split: {
              weights: [
                [50, `${champion}:1`],
                [50, `${challenger}:1`],
              ],
            },
          },
    ])
    return { lm, version: deployed.version }
  }

  /** `requests` requests of `rows` rows; with `feedback`, each row's truth (x₀ > 0, one in ten flipped). */
  async function traffic(pipeline: string, seed: number, requests: number, rows: number, feedback = true) {
    const rand = mulberry32(seed)
    for (let r = 0; r < requests; r++) {
      const x = Array.from({ length: rows * 2 }, () => rand() * 4 - 2)
      const id = `${pipeline}-${seed}-${r}`
      const res = await s.app.request(
        `/v2/models/${pipeline}/infer`,
        post({ id, inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 2], data: x }] }),
      )
      expect(res.status).toBe(200)
      if (!feedback) continue
      const outcomes = Array.from({ length: rows }, (_, row) => {
        const truth = (x[2 * row] as number) > 0 ? 1 : 0
        return { id, row, outcome: rand() < 0.1 ? 1 - truth : truth }
      })
      const fb = await s.app.request(`/v1/workspaces/default/pipelines/${pipeline}/feedback`, post({ outcomes }))
      expect(fb.status).toBe(200)
    }
  }

  it('promotes a better challenger, with the evidence stored and sent to a webhook', async () => {
    const { lm, version } = await contest('better', 'blurred', 'sharp')
    const rule = await lm.putPromotion('default', 'better', { interval_s: 60, min_samples: 300, webhooks: [hook.url] })
    expect(rule.rule).toMatchObject({ confidence: 0.95, metric: 'accuracy', min_samples: 300, action: 'promote' })
    await traffic('better', 11, 6, 400)
    const report = await lm.challengers('default', 'better')
    expect(report).toMatchObject({
      version,
      contest: { kind: 'random_split', champion: 'blurred:1', challenger: 'sharp:1' },
      metric: 'accuracy',
    })
    const [champ, chall] = report.arms
    expect(champ).toMatchObject({ model: 'blurred:1', role: 'champion', latency: { shared: false } })
    expect(chall).toMatchObject({ model: 'sharp:1', role: 'challenger' })
    expect((champ?.rows ?? 0) + (chall?.rows ?? 0)).toBe(2400)
    expect(champ?.labeled).toBe(champ?.rows)
    const accuracy = (a: typeof champ) =>
      a?.metrics as unknown as { accuracy: { value: number; low: number; high: number } }
    expect(accuracy(chall).accuracy.value).toBeGreaterThan(0.85)
    expect(accuracy(champ).accuracy.value).toBeLessThan(0.78)
    expect(accuracy(chall).accuracy.low).toBeGreaterThan(accuracy(champ).accuracy.high)
    expect(chall?.latency.rows).toBe(chall?.rows)
    expect(chall?.latency.p99_ms).toBeGreaterThanOrEqual(chall?.latency.p50_ms ?? Number.POSITIVE_INFINITY)
    const [comparison] = report.comparisons
    expect(comparison?.test?.verdict).toBe('challenger_better')
    expect(comparison?.drift?.value).toBe('p(class 1)')
    expect(comparison?.drift?.psi).toBeGreaterThanOrEqual(0)

    await tick()
    const [d, ...older] = await lm.decisions('default', 'better')
    expect(older).toEqual([])
    expect(d).toMatchObject({
      action: 'promote',
      applied: true,
      reason: 'challenger_better',
      version,
      new_version: version + 1,
      kept: 'sharp:1',
      test: { verdict: 'challenger_better' },
    })
    expect((await lm.getPipelineVersion('default', 'better', version + 1)).steps).toEqual([{ model: 'sharp:1' }])
    expect(s.deps.manager.get('default', 'better')?.spec.pipelineVersion).toBe(version + 1)
    expect(hook.received).toContainEqual(
      expect.objectContaining({ event: 'promotion.decision', id: d?.id, kept: 'sharp:1' }),
    )
    // The rule stays, with nothing to decide until the next challenger.
    await tick()
    expect(await lm.decisions('default', 'better')).toHaveLength(1)
    expect((await lm.getPromotion('default', 'better')).evaluation).toMatchObject({ state: 'no_contest' })
  })

  it('compares a shadow on the rows both predicted, and promotes it', async () => {
    const { lm, version } = await contest('shadowed', 'blurred', 'sharp', 'shadow')
    await lm.putPromotion('default', 'shadowed', { interval_s: 60, min_samples: 300 })
    await traffic('shadowed', 40, 2, 400)
    const report = await lm.challengers('default', 'shadowed')
    expect(report.contest).toMatchObject({ kind: 'shadow', champion: 'blurred:1', challenger: 'sharp:1' })
    expect(report.arms.map((a) => [a.model, a.shadow, a.rows, a.labeled, a.latency.shared])).toEqual([
      ['blurred:1', false, 800, 800, true],
      ['sharp:1', true, 800, 800, true],
    ])
    // The same requests: both arms show the pipeline's request latency.
    expect(report.arms[1]?.latency).toEqual(report.arms[0]?.latency)
    const [comparison] = report.comparisons
    expect(comparison).toMatchObject({ paired: true, test: { n: [800, 800], verdict: 'challenger_better' } })
    await tick()
    const [d] = await lm.decisions('default', 'shadowed')
    expect(d).toMatchObject({ action: 'promote', kind: 'shadow', kept: 'sharp:1', new_version: version + 1 })
    expect((await lm.getPipelineVersion('default', 'shadowed', version + 1)).steps).toEqual([{ model: 'sharp:1' }])
  })

  it('promotes nothing between equal arms', async () => {
    const { lm, version } = await contest('equal', 'blurred', 'mirror')
    await lm.putPromotion('default', 'equal', { interval_s: 60, min_samples: 300 })
    for (let k = 0; k < 3; k++) {
      await traffic('equal', 20 + k, 2, 400)
      await tick()
    }
    expect(await lm.decisions('default', 'equal')).toEqual([])
    expect(s.deps.manager.get('default', 'equal')?.spec.pipelineVersion).toBe(version)
    expect((await lm.getPromotion('default', 'equal')).evaluation).toMatchObject({ state: 'undecided', version })
  })

  it('rolls a worse challenger back at the evaluation after an assay alert', async () => {
    const { lm, version } = await contest('worse', 'sharp', 'blurred')
    await lm.putPromotion('default', 'worse', { interval_s: 60 }) // min_samples 1000: not judged yet
    const since = Date.now() - 1
    await traffic('worse', 30, 2, 200)
    await tick()
    expect(await lm.decisions('default', 'worse')).toEqual([])
    expect((await lm.getPromotion('default', 'worse')).evaluation).toMatchObject({ state: 'collecting' })
    // Predictions far from the baseline's: the window alerts.
    const assay = await s.app.request(
      '/v1/workspaces/default/assays',
      post({
        name: 'worse drift',
        pipeline: 'worse',
        iopath: 'out.prob',
        baseline: { values: Array.from({ length: 50 }, (_, i) => 0.001 * (i + 1)) },
        window: { width: '1h', start: since },
      }),
    )
    expect(assay.status).toBe(201)
    const { id } = (await assay.json()) as { id: number }
    const run = await s.app.request(
      `/v1/workspaces/default/assays/${id}/run`,
      post({ start: since, end: since + 3_600_000 }),
    )
    expect(((await run.json()) as Array<{ status: string }>).map((w) => w.status)).toEqual(['alert'])
    await tick()
    const [d] = await lm.decisions('default', 'worse')
    expect(d).toMatchObject({ action: 'rollback', applied: true, reason: 'assay_alert', kept: 'sharp:1' })
    expect(d?.alert).toMatchObject({ kind: 'assay', assay: id, name: 'worse drift' })
    expect((await lm.getPipelineVersion('default', 'worse', version + 1)).steps).toEqual([{ model: 'sharp:1' }])
    expect(s.deps.manager.get('default', 'worse')?.spec.pipelineVersion).toBe(version + 1)
  })

  it('refuses what it cannot do, saying why', async () => {
    const lm = clientFor(s.app)
    await lm.putPipeline('default', 'plain', [{ model: 'sharp' }])
    const P = '/v1/workspaces/default/pipelines'
    const refused = async (res: Response | Promise<Response>, status: number, message: RegExp) => {
      const r = await res
      expect(r.status).toBe(status)
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(message)
    }
    await refused(s.app.request(`${P}/plain/challenger`, post({ model: 'blurred' })), 409, /not deployed/)
    await lm.deploy('default', 'plain')
    await refused(s.app.request(`${P}/plain/challenger`, post({ model: 'nothing' })), 400, /no model 'nothing'/)
    await refused(s.app.request(`${P}/plain/challenger`, post({ model: 'sharp:1' })), 400, /already the deployed/)
    await refused(s.app.request(`${P}/plain/challenger`, post({ model: 'blurred', weight: 100 })), 400, /weight/)
    await refused(s.app.request(`${P}/plain/challenger`, post({ model: 'blurred', mode: 'ab' })), 400, /mode/)
    await lm.deployChallenger('default', 'plain', { model: 'blurred' })
    await refused(
      s.app.request(`${P}/plain/challenger`, post({ model: 'mirror' })),
      400,
      /step 0 is a shadow step: a challenger joins a version whose models are one model step/,
    )
    await refused(s.app.request(`${P}/plain/promotion`, put({ confidence: 2 })), 400, /confidence/)
    await refused(s.app.request(`${P}/plain/promotion`, put({ nope: 1 })), 400, /nope/)
    await refused(
      s.app.request(`${P}/plain/promotion`, put({ webhooks: ['http://169.254.169.254/latest'] })),
      400,
      /cloud metadata/,
    )
    await refused(s.app.request(`${P}/ghost/promotion`, put({})), 404, /no pipeline 'ghost'/)
    await refused(s.app.request(`${P}/plain/promotion`), 404, /no promotion rule/)
    await refused(s.app.request(`${P}/plain/challengers`), 404, /no outcome settings/)
    await refused(s.app.request(`${P}/plain/decisions?limit=0`), 400, /limit/)
    await s.app.request(`${P}/plain/outcomes`, put({ task: 'classification', output: 'prob' }))
    await refused(s.app.request(`${P}/plain/promotion`, put({ metric: 'mae' })), 400, /'mae' does not fit/)
    await refused(s.app.request(`${P}/plain/challengers?start=tomorrow`), 400, /not a time/)
    await refused(s.app.request(`${P}/plain/challengers?version=9`), 404, /no version 9/)
  })
})
