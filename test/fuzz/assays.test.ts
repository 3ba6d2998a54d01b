/**
 * Fuzzing assay requests through the server: structure-aware definitions (odd durations and
 * times, webhook URLs in every spelling, baselines with nulls and extremes, random summarizers),
 * runs over random ranges and previews of random values each answer a 2xx or a 4xx within the
 * case bound — never a 500 — and the server stays live and correct afterwards. DNS is a stub
 * (every name public) and no assay is active, so nothing is sent anywhere.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, doubler, post, testConfig } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'

const MAX_RUN_WINDOWS = 50
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e-7, 1e-10, 1e300, -1e300, 8.64e15, 8.64e15 + 1, Number.MAX_SAFE_INTEGER),
)
const duration = fc.oneof(
  number,
  fc.string({ maxLength: 12 }),
  fc.tuple(number, fc.constantFrom('ms', 's', 'm', 'h', 'd', '', ' ms', 'fortnight')).map(([n, u]) => `${n}${u}`),
)
const time = fc.oneof(
  number,
  fc.string({ maxLength: 30 }),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
)
const webhook = fc.oneof(
  fc.webUrl(),
  fc.constantFrom(
    'http://2130706433/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://[::ffff:7f00:1]/',
    'http://169.254.169.254/',
    'http://metadata.google.internal/',
    'gopher://x/',
    'http://[fd00:ec2::254]/',
  ),
  fc.string({ maxLength: 30 }),
)
const values = fc.array(fc.oneof(number, fc.constant(null)), { maxLength: 300 })
const summarizer = fc.record(
  {
    bin_mode: fc.constantFrom('quantile', 'equal', 'provided', 'other'),
    num_bins: fc.oneof(fc.integer({ min: -2, max: 2000 }), number),
    edges: fc.array(number, { maxLength: 12 }),
    add_outlier_edges: fc.boolean(),
    aggregation: fc.constantFrom('density', 'cumulative', 'edges'),
    metric: fc.constantFrom('psi', 'maxdiff', 'sumdiff'),
  },
  { requiredKeys: [] },
)

describe('fuzz: assay requests through the server', () => {
  let s: BuiltServer
  let fixed = 0
  let t0 = 0

  beforeAll(async () => {
    s = await buildServer(
      testConfig({ assays: { maxRunWindows: MAX_RUN_WINDOWS, maxRequestValues: 5000, webhookAttempts: 1 } }),
      { log: silentLogger, resolve: async () => [{ address: '93.184.215.14', family: 4 }] },
    )
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'm', doubler(1))
    await lm.putPipeline('default', 'm', [{ model: 'm' }])
    await lm.deploy('default', 'm')
    t0 = Date.now()
    await lm.inferRecords(
      'default',
      'm',
      Array.from({ length: 50 }, (_, i) => ({ x: [(i * 7919) % 101] })),
    )
    const res = await s.app.request(
      '/v1/workspaces/default/assays',
      post({
        name: 'fixed',
        pipeline: 'm',
        iopath: 'in.x',
        baseline: { values: [1, 5, 9, 40, 80] },
        window: { width: '1s' },
        active: false,
      }),
    )
    fixed = ((await res.json()) as { id: number }).id
  })
  afterAll(async () => {
    await s.shutdown()
  })

  /** A request answered 2xx or 4xx within the case bound. */
  async function answered(path: string, body: unknown, allowed: number[]): Promise<Response> {
    const started = performance.now()
    const res = await s.app.request(path, post(body))
    expect(performance.now() - started).toBeLessThan(CASE_TIMEOUT_MS)
    expect(allowed, `${res.status} for ${JSON.stringify(body).slice(0, 300)}`).toContain(res.status)
    return res
  }

  it(
    'answers random definitions with 201 or a 4xx',
    async () => {
      // Mostly well-formed, with one odd field or more: the cases reach past the schema.
      const mostly = <T, U>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
        fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: odd })
      const definition = fc.record(
        {
          name: mostly(fc.uuid(), fc.string({ maxLength: 10 })),
          pipeline: mostly(fc.constant('m'), fc.constantFrom('nope', '')),
          iopath: mostly(fc.constantFrom('in.x', 'in.x[0]', 'out.y[0]'), fc.constantFrom('in.x[5]', 'x', 'in.', '')),
          baseline: mostly(
            fc.record({
              values: fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
            }),
            fc.oneof(fc.record({ values }), fc.record({ start: time, end: time })),
          ),
          summarizer: mostly(
            fc.record(
              {
                bin_mode: fc.constantFrom('quantile', 'equal'),
                num_bins: fc.integer({ min: 1, max: 50 }),
                aggregation: fc.constantFrom('density', 'cumulative'),
                metric: fc.constantFrom('psi', 'maxdiff', 'sumdiff'),
              },
              { requiredKeys: [] },
            ),
            summarizer,
          ),
          warning_threshold: number,
          alert_threshold: number,
          window: fc.record(
            {
              width: mostly(fc.constantFrom('1s', '1m', '24h', 60, '1500ms'), duration),
              interval: mostly(fc.constantFrom('1s', '1h', 3600), duration),
              start: mostly(fc.integer({ min: 0, max: 4e12 }), time),
            },
            { requiredKeys: ['width'] },
          ),
          webhooks: fc.array(mostly(fc.constant('https://hooks.example.test/drift'), webhook), { maxLength: 3 }),
          active: fc.constant(false),
        },
        { requiredKeys: ['name', 'pipeline', 'iopath', 'baseline', 'window', 'active'] },
      )
      await fc.assert(
        fc.asyncProperty(definition, async (d) => {
          await answered('/v1/workspaces/default/assays', d, [201, 400, 404, 409])
        }),
        fuzzParams(150),
      )
    },
    CASE_TIMEOUT_MS * 10,
  )

  it(
    'answers runs over random ranges with at most the window limit, or a 400',
    async () => {
      const range = fc.oneof(
        fc.record({ start: time, end: time }),
        fc
          .tuple(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: 0, max: 200_000 }))
          .map(([a, span]) => ({ start: t0 + a, end: t0 + a + span })),
      )
      await fc.assert(
        fc.asyncProperty(range, async (r) => {
          const res = await answered(`/v1/workspaces/default/assays/${fixed}/run`, r, [200, 400])
          if (res.status === 200) expect(((await res.json()) as unknown[]).length).toBeLessThanOrEqual(MAX_RUN_WINDOWS)
        }),
        fuzzParams(100),
      )
    },
    CASE_TIMEOUT_MS * 10,
  )

  it(
    'answers random previews with 200 or 400, and stays live and correct afterwards',
    async () => {
      const finite = fc.double({ min: -1e9, max: 1e9, noNaN: true })
      const preview = fc.oneof(
        fc.record(
          {
            baseline: fc.record({
              values: fc.array(fc.oneof(finite, fc.constant(null)), { minLength: 1, maxLength: 300 }),
            }),
            window: fc.record({
              values: fc.array(fc.oneof(finite, fc.constant(null)), { minLength: 1, maxLength: 300 }),
            }),
            summarizer,
            warning_threshold: finite,
            alert_threshold: finite,
          },
          { requiredKeys: ['baseline', 'window'] },
        ),
        fc.record(
          {
            baseline: fc.oneof(fc.record({ values }), values, fc.constant(null)),
            window: fc.oneof(fc.record({ values }), fc.record({ values: fc.array(number, { maxLength: 6000 }) })),
            summarizer,
            warning_threshold: number,
            alert_threshold: number,
          },
          { requiredKeys: ['baseline', 'window'] },
        ),
      )
      await fc.assert(
        fc.asyncProperty(preview, async (p) => {
          await answered('/v1/workspaces/default/assays/preview', p, [200, 400])
        }),
        fuzzParams(150),
      )
      expect((await s.app.request('/v2/health/live')).status).toBe(200)
      // Four equal values against four values above them all: every window value in the right outlier bin.
      const r = (await (
        await s.app.request(
          '/v1/workspaces/default/assays/preview',
          post({
            baseline: { values: [1, 2, 3, 4] },
            window: { values: [9, 9, 9, 9] },
            summarizer: { bin_mode: 'equal', num_bins: 1 },
          }),
        )
      ).json()) as { bins: { window: number[] } }
      expect(r.bins.window).toEqual([0, 0, 1])
    },
    CASE_TIMEOUT_MS * 10,
  )
})
