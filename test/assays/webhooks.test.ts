/**
 * Assay webhooks through the outbound policy, on a server: a webhook the policy refuses is a 400
 * at definition, naming the URL and the reason (the odd IP spellings among them); a name
 * that resolved to a public address at definition and to loopback when the alert is sent is
 * refused then, logged, and not retried; a redirect to loopback is not followed. DNS is played
 * by an injected resolver; the receivers are real local HTTP servers.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '../../src/logger.js'
import type { Resolver } from '../../src/outbound/policy.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, doubler, post, testConfig } from '../helpers/server.js'

interface Line {
  msg: string
  fields: Record<string, unknown>
}

describe('assay webhooks and the outbound policy', () => {
  const lines: Line[] = []
  const at = (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields: fields ?? {} })
  const logger: Logger = { debug: at, info: at, warn: at, error: at }
  const asked: string[] = []
  const answers: Record<string, string[][]> = {
    'public.example.test': [['93.184.215.14']],
    'intranet.example.test': [['10.0.0.7']],
    // Public when the assay is defined, loopback when the alert is sent (DNS rebinding).
    'rebind.example.test': [['93.184.215.14'], ['127.0.0.1']],
    'redirector.example.test': [['127.0.0.1']],
  }
  const resolve: Resolver = async (host) => {
    asked.push(host)
    const turns = answers[host]
    if (!turns) throw new Error(`getaddrinfo ENOTFOUND ${host}`)
    const i = Math.min(asked.filter((h) => h === host).length - 1, turns.length - 1)
    return (turns[i] as string[]).map((address) => ({ address, family: 4 as const }))
  }
  const hits: string[] = []
  let insideHits = 0
  let port = 0
  let inside = 0
  const servers: Server[] = []
  let s: BuiltServer

  const listen = (srv: Server) =>
    new Promise<number>((r) => {
      servers.push(srv)
      srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port))
    })

  beforeAll(async () => {
    port = await listen(
      createServer((req, res) => {
        hits.push(req.url ?? '')
        req.resume()
        if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${inside}/internal` }).end()
        else res.writeHead(204).end()
      }),
    )
    inside = await listen(
      createServer((req, res) => {
        insideHits++
        req.resume()
        res.writeHead(204).end()
      }),
    )
    // Local addresses stay refused; only the redirector's name is opened.
    const config = testConfig({
      outbound: { allowlist: ['redirector.example.test'] },
      assays: { webhookAttempts: 3 },
    })
    s = await buildServer(config, { log: logger, resolve })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'm', doubler(1))
    await lm.putPipeline('default', 'm', [{ model: 'm' }])
    await lm.deploy('default', 'm')
  })
  afterAll(async () => {
    await s.shutdown()
    for (const srv of servers) srv.closeAllConnections()
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))))
  })

  const define = (name: string, webhooks: string[], extra: Record<string, unknown> = {}) =>
    s.app.request(
      '/v1/workspaces/default/assays',
      post({
        name,
        pipeline: 'm',
        iopath: 'in.x[0]',
        baseline: { values: [1, 2, 3, 4, 5, 6, 7, 8] },
        window: { width: '1h' },
        webhooks,
        ...extra,
      }),
    )

  it('refuses at definition, with a 400 naming the URL and the reason, every webhook the policy refuses', async () => {
    const cases: Array<[string, RegExp]> = [
      ['http://2130706433/', /127\.0\.0\.1 is loopback/],
      ['http://0x7f.1/', /127\.0\.0\.1 is loopback/],
      ['http://127.1/', /127\.0\.0\.1 is loopback/],
      ['http://[::ffff:7f00:1]/', /loopback \(127\.0\.0\.0\/8\), as IPv4-mapped IPv6/],
      ['http://localhost:9/', /names this machine/],
      ['http://10.0.0.1/', /private/],
      ['http://100.64.1.1/', /carrier-grade NAT/],
      ['http://[fd00::1]/', /unique local/],
      ['http://169.254.10.10/', /link-local/],
      ['http://[fe80::1]/', /link-local/],
      ['http://169.254.169.254/latest/meta-data/iam/', /cloud metadata service/],
      ['http://[fd00:ec2::254]/', /AWS metadata service/],
      ['http://metadata.google.internal/computeMetadata/v1/', /names a cloud metadata service/],
      ['http://0.0.0.0/', /"this network"/],
      ['http://[::]/', /unspecified/],
      ['http://224.0.0.251/', /multicast/],
      ['http://255.255.255.255/', /broadcast/],
      ['http://240.0.0.1/', /reserved/],
      ['ftp://public.example.test/', /scheme 'ftp' is not allowed/],
      ['http://intranet.example.test/hook', /'intranet\.example\.test' resolves to 10\.0\.0\.7, which is private/],
      ['http://nowhere.example.test/', /does not resolve/],
    ]
    for (const [url, reason] of cases) {
      // A good webhook first: the refused one is named, whatever its place in the list.
      const res = await define('refused', ['https://public.example.test/ok', url])
      expect(res.status, url).toBe(400)
      const message = ((await res.json()) as { error: { message: string } }).error.message
      expect(message, url).toContain(url)
      expect(message, url).toMatch(reason)
    }
    const list = (await (await s.app.request('/v1/workspaces/default/assays')).json()) as unknown[]
    expect(list).toEqual([])
    expect((await define('public', ['https://public.example.test/ok', 'http://8.8.8.8/'])).status).toBe(201)
  })

  /** Infer a few rows now and score the one-hour window holding them; alert_threshold 0 makes it alert. */
  async function alertOnce(name: string, webhook: string) {
    const res = await define(name, [webhook], { alert_threshold: 0, active: false })
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: number }
    const t0 = Date.now() - 1000
    await clientFor(s.app).inferRecords('default', 'm', [{ x: [50] }, { x: [60] }, { x: [70] }])
    const run = await s.app.request(`/v1/workspaces/default/assays/${id}/run`, post({ start: t0, end: t0 + 3_600_000 }))
    expect(((await run.json()) as Array<{ status: string }>).map((r) => r.status)).toEqual(['alert'])
    await s.deps.assays.idle()
    return id
  }

  it('refuses at send time a name that now resolves to loopback: logged once, not retried, nothing sent', async () => {
    hits.length = 0
    const url = `http://rebind.example.test:${port}/alerts`
    const id = await alertOnce('rebind', url)
    expect(hits).toEqual([])
    expect(asked.filter((h) => h === 'rebind.example.test')).toHaveLength(2) // at definition, at the one send
    const refused = lines.filter((l) => l.msg === 'webhook refused by the outbound policy')
    expect(refused).toHaveLength(1)
    expect(refused[0]?.fields).toMatchObject({ assay: id, url })
    expect(refused[0]?.fields.reason).toMatch(/'rebind\.example\.test' resolves to 127\.0\.0\.1, which is loopback/)
  })

  it('does not follow a redirect to loopback: the delivery fails once with the Location logged', async () => {
    hits.length = 0
    insideHits = 0
    const url = `http://redirector.example.test:${port}/redirect`
    await alertOnce('redirect', url)
    expect(hits).toEqual(['/redirect']) // one attempt: a redirect is not retried
    expect(insideHits).toBe(0)
    const failed = lines.filter((l) => l.msg === 'webhook failed: redirects are not followed')
    expect(failed).toHaveLength(1)
    expect(failed[0]?.fields).toMatchObject({ url, status: 302, location: `http://127.0.0.1:${inside}/internal` })
  })
})
