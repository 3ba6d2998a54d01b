/**
 * Browsers and cross-site requests, through the real server on a socket: issue #12's attack
 * (cross-site text/plain POSTs drove a keyless server) rebuilt and refused; same-origin pages, an
 * allowed origin and clients that are not browsers keep working; a DNS-rebinding Host is refused.
 */
import { execFile } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, tempDir, testConfig } from '../helpers/server.js'

interface Sent {
  status: number
  text: string
}

/** A request with exactly these headers (node:http, unlike fetch, sends the Host it is given). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => {
        text += d
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const message = (r: Sent) => (JSON.parse(r.text) as { error: { message: string } }).error.message

/** What a page at http://evil.example makes a current browser send with a form or no-cors fetch. */
const CROSS_SITE = {
  origin: 'http://evil.example',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'no-cors',
  'content-type': 'text/plain;charset=UTF-8',
}
const W = '/v1/workspaces/default'
const ASSAY = JSON.stringify({
  name: 'drift',
  pipeline: 'live',
  iopath: 'in.x[0]',
  baseline: { values: [1, 2, 3, 4, 5, 6] },
  window: { width: '1h' },
})
const MODEL = doubler(2)

/**
 * The five requests of the attack, as text/plain POSTs: each is a valid request that does
 * what it says when sent without browser headers (the second test proves it).
 */
const ATTACK: Array<{ what: string; path: string; body: string | Uint8Array }> = [
  { what: 'model upload', path: `${W}/models/planted`, body: MODEL },
  { what: 'assay creation', path: `${W}/assays`, body: ASSAY },
  { what: 'deploy', path: `${W}/pipelines/idle/deploy`, body: '{}' },
  { what: 'job creation', path: `${W}/pipelines/idle/jobs?format=csv&features=a,b`, body: 'a,b\n1,2\n3,4\n' },
  { what: 'undeploy', path: `${W}/pipelines/live/undeploy`, body: '' },
]

describe('cross-site requests to a server without keys (the loopback default)', () => {
  const config = testConfig()
  let server: RunningServer
  let lm: LastmileClient
  let host: string

  /** What the attack would change: models, deployments, assays, jobs. */
  const state = async () => ({
    models: (await lm.listModels('default')).map((m) => m.name).sort(),
    deployed: server.deps.manager
      .list()
      .map((d) => d.name)
      .sort(),
    assays: ((await (await fetch(`${server.url}${W}/assays`)).json()) as unknown[]).length,
    jobs: (await lm.listJobs('default')).length,
  })

  beforeAll(async () => {
    server = await startServer(config)
    host = new URL(server.url).host
    lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'm', MODEL)
    await lm.putPipeline('default', 'live', [{ model: 'm' }])
    await lm.putPipeline('default', 'idle', [{ model: 'm' }])
    await lm.deploy('default', 'live')
  })
  afterAll(async () => {
    await server.close()
    rmSync(config.dataDir, { recursive: true, force: true })
  })

  it('refuses each request of the attack with a 403 that names the setting, and nothing changes', async () => {
    const before = await state()
    expect(before).toEqual({ models: ['m'], deployed: ['live'], assays: 0, jobs: 0 })
    for (const a of ATTACK) {
      const r = await send(server.url, 'POST', a.path, CROSS_SITE, a.body)
      expect(r.status, a.what).toBe(403)
      expect(message(r), a.what).toMatch(/cross-site request.*http:\/\/evil\.example.*LASTMILE_ALLOWED_ORIGINS/)
    }
    // An older browser sends Origin without Sec-Fetch-Site; a sandboxed frame sends Origin: null;
    // a sibling subdomain is same-site, not same-origin.
    const older = { origin: 'http://evil.example', 'content-type': 'text/plain' }
    const sandboxed = { origin: 'null', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' }
    const sibling = { origin: 'http://app.localhost', 'sec-fetch-site': 'same-site', 'content-type': 'text/plain' }
    for (const headers of [older, sandboxed, sibling]) {
      expect((await send(server.url, 'POST', `${W}/pipelines/live/undeploy`, headers)).status).toBe(403)
      expect((await send(server.url, 'DELETE', `${W}/models/m`, headers)).status).toBe(403)
      expect((await send(server.url, 'PUT', `${W}/pipelines/idle`, headers, '{"steps":[{"model":"m"}]}')).status).toBe(
        403,
      )
    }
    expect(await state()).toEqual(before)
  })

  it('serves the same requests from clients that are not browsers (no Origin, no Sec-Fetch-Site)', async () => {
    for (const a of ATTACK) {
      const r = await send(server.url, 'POST', a.path, { 'content-type': 'text/plain' }, a.body)
      expect(r.status, `${a.what}: ${r.text}`).toBeLessThan(300)
    }
    const after = await state()
    expect(after).toMatchObject({ models: ['m', 'planted'], deployed: ['idle'], assays: 1, jobs: 1 })
    await lm.deploy('default', 'live') // back for the next tests
  })

  it("takes the server's own pages: Sec-Fetch-Site same-origin, or an Origin matching Host", async () => {
    const page = { origin: `http://${host}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }
    const r = await send(server.url, 'POST', `${W}/pipelines/idle/undeploy`, page)
    expect(r.status, r.text).toBe(200)
    const olderPage = { origin: `http://${host}`, 'content-type': 'application/json' }
    expect((await send(server.url, 'POST', `${W}/pipelines/idle/deploy`, olderPage, '{}')).status).toBe(200)
    expect(server.deps.manager.list().map((d) => d.name)).toContain('idle')
  })

  it('leaves reads alone: a cross-site GET is answered (without CORS headers the page cannot read it)', async () => {
    const r = await send(server.url, 'GET', `${W}/pipelines`, {
      origin: 'http://evil.example',
      'sec-fetch-site': 'cross-site',
    })
    expect(r.status).toBe(200)
  })

  it('sends no CORS headers, so browsers refuse non-simple requests at the preflight', async () => {
    const preflight = await send(server.url, 'OPTIONS', `${W}/pipelines/live/undeploy`, {
      origin: 'http://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    })
    expect(preflight.status).toBe(404)
    const r = await fetch(`${server.url}${W}/pipelines`, { headers: { origin: 'http://evil.example' } })
    expect([...r.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([])
  })

  it('refuses a Host that is a DNS name other than localhost (DNS rebinding), on every route', async () => {
    const port = new URL(server.url).port
    for (const [method, path] of [
      ['GET', `${W}/pipelines`],
      ['GET', '/metrics'],
      ['POST', `${W}/pipelines/live/undeploy`],
    ] as const) {
      const r = await send(server.url, method, path, {
        host: `rebind.evil.example:${port}`,
        'sec-fetch-site': 'same-origin',
      })
      expect(r.status, `${method} ${path}`).toBe(403)
      expect(message(r)).toMatch(/Host 'rebind\.evil\.example:\d+'.*DNS rebinding.*LASTMILE_AUTH=on/)
    }
    for (const h of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
      expect((await send(server.url, 'GET', `${W}/pipelines`, { host: h })).status, h).toBe(200)
    }
    expect(server.deps.manager.list().map((d) => d.name)).toContain('live')
  })
})

describe('clients that are not browsers, as they send requests', () => {
  const config = testConfig()
  let server: RunningServer
  const dir = tempDir()

  beforeAll(async () => {
    server = await startServer(config)
    const lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'm', MODEL)
    await lm.putPipeline('default', 'live', [{ model: 'm' }])
    await lm.deploy('default', 'live')
  })
  afterAll(async () => {
    await server.close()
    rmSync(config.dataDir, { recursive: true, force: true })
    rmSync(dir, { recursive: true, force: true })
  })

  it("lastmile's own client (Node fetch: Sec-Fetch-Mode but no Origin or Sec-Fetch-Site)", async () => {
    const lm = new LastmileClient({ url: server.url })
    expect((await lm.uploadModel('default', 'again', doubler(3))).version).toBe(1)
    await lm.undeploy('default', 'live')
    await lm.deploy('default', 'live')
    expect((await lm.inferRecords('default', 'live', [{ x: [1, 5] }]))[0]?.['out.y']).toEqual([2, 10])
  })

  it('curl --data-binary @model.onnx (sent as application/x-www-form-urlencoded), as in the README', async () => {
    const file = join(dir, 'model.onnx')
    writeFileSync(file, doubler(4))
    const curl = await promisify(execFile)('curl', [
      '-s',
      '-w',
      '\n%{http_code}',
      '--data-binary',
      `@${file}`,
      `${server.url}${W}/models/from-curl`,
    ]).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)))
    if (curl === undefined) {
      // No curl binary here: send what curl 7/8 sends for --data-binary, header for header.
      const r = await send(
        server.url,
        'POST',
        `${W}/models/from-curl`,
        { 'user-agent': 'curl/8.5.0', accept: '*/*', 'content-type': 'application/x-www-form-urlencoded' },
        doubler(4),
      )
      expect(r.status, r.text).toBe(201)
    } else expect(curl.stdout.trim().split('\n').at(-1)).toBe('201')
  })

  it('tritonclient (geventhttpclient: no Content-Type, binary tensors after an Inference-Header-Content-Length)', async () => {
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } }],
        outputs: [{ name: 'y', parameters: { binary_data: false } }],
      }),
    )
    const body = new Uint8Array(header.length + 8)
    body.set(header)
    body.set(new Uint8Array(new Float32Array([1.5, -3]).buffer), header.length)
    const r = await send(
      server.url,
      'POST',
      '/v2/models/live/infer',
      {
        'user-agent': 'python/gevent-http-client-2.3.1',
        'inference-header-content-length': String(header.length),
      },
      body,
    )
    expect(r.status, r.text).toBe(200)
    expect((JSON.parse(r.text) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data).toEqual([3, -6])
  })

  it("KServe's InferenceRESTClient (httpx posting orjson bytes: no Content-Type, no Origin)", async () => {
    const r = await send(
      server.url,
      'POST',
      '/v2/models/live/infer',
      { 'user-agent': 'python-httpx/0.27.0', accept: '*/*', 'accept-encoding': 'gzip, deflate' },
      JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [0.25, 4] }] }),
    )
    expect(r.status, r.text).toBe(200)
    expect((JSON.parse(r.text) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data).toEqual([0.5, 8])
  })
})

describe('LASTMILE_ALLOWED_ORIGINS', () => {
  const config = testConfig({ server: { allowedOrigins: ['https://console.example.com'] } })
  let server: RunningServer

  beforeAll(async () => {
    server = await startServer(config)
    const lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'm', MODEL)
    await lm.putPipeline('default', 'live', [{ model: 'm' }])
  })
  afterAll(async () => {
    await server.close()
    rmSync(config.dataDir, { recursive: true, force: true })
  })

  it('lets a page of a listed origin change state, and still refuses every other site', async () => {
    const page = (origin: string) => ({ origin, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' })
    const other = await send(
      server.url,
      'POST',
      `${W}/pipelines/live/deploy`,
      page('https://console.example.org'),
      '{}',
    )
    expect(other.status).toBe(403)
    expect(server.deps.manager.list()).toEqual([])
    const listed = await send(
      server.url,
      'POST',
      `${W}/pipelines/live/deploy`,
      page('https://console.example.com'),
      '{}',
    )
    expect(listed.status, listed.text).toBe(200)
    expect(server.deps.manager.list().map((d) => d.name)).toEqual(['live'])
  })

  it('is read from the environment as a comma-separated list and refuses what is not an origin', async () => {
    const { loadConfig } = await import('../../src/config.js')
    const env = { LASTMILE_ALLOWED_ORIGINS: 'https://a.example, http://b.example:8081' }
    expect(loadConfig(env).server.allowedOrigins).toEqual(['https://a.example', 'http://b.example:8081'])
    expect(() => loadConfig({ LASTMILE_ALLOWED_ORIGINS: 'https://a.example/console' })).toThrow(
      /server\.allowedOrigins\.0 \(LASTMILE_ALLOWED_ORIGINS\): expected an origin/,
    )
    expect(() => loadConfig({ LASTMILE_ALLOWED_ORIGINS: '*' })).toThrow(/LASTMILE_ALLOWED_ORIGINS/)
  })
})
