/**
 * Error bodies as the real clients read them. Every `/v2` answer that is not a 200 must be the OIP's
 * `{"error": "<string>"}`: tritonclient builds an exception from it whose `str()` concatenates the
 * message, and KServe's client prints it. lastmile's own `/v1` routes keep `{"error": {code, message}}`
 * for its client, and the pandas-records/Arrow route answers Wallaroo's engine body to Wallaroo's SDK.
 * Each parser below follows the client's code line by line (cited), not lastmile's.
 */
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { createApiKey } from '../../src/registry/keys.js'
import { onError } from '../../src/server/errors.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { clientFor, doubler, spec, testConfig, testServer } from '../helpers/server.js'

interface Answer {
  status: number
  type: string | null
  text: string
}

const read = async (res: Response): Promise<Answer> => ({
  status: res.status,
  type: res.headers.get('content-type'),
  text: await res.text(),
})

/**
 * tritonclient.http (triton-inference-server/client, src/python/library/tritonclient): `_get_error`
 * in http/_utils.py does `InferenceServerException(msg=json.loads(body)["error"], status=str(code))`
 * for any status but 200, and `InferenceServerException.__str__` in utils/__init__.py returns
 * `"[" + self._status + "] " + msg`: a TypeError unless `msg` is a str.
 */
function tritonclientMessage(a: Answer): string {
  const body = a.text.length ? JSON.parse(a.text) : { error: 'client received an empty response from the server.' }
  if (!('error' in body)) throw new Error("KeyError: 'error' (the client reports a decoding failure)")
  const msg: unknown = body.error
  if (typeof msg !== 'string') throw new TypeError(`can only concatenate str (not "${typeof msg}") to str`)
  return `[${a.status}] ${msg}`
}

/**
 * KServe's `InferenceRESTClient._construct_http_status_error` (python/kserve/kserve/inference_client.py):
 * the message is read only when Content-Type is exactly `application/json`, then `error` if present.
 */
function kserveMessage(a: Answer): unknown {
  if (a.type !== 'application/json') return ''
  const body = JSON.parse(a.text)
  return 'error' in body ? body.error : body
}

/**
 * Wallaroo's SDK (wallaroo/exceptions.py): `InferenceError(response)` → `APIErrorResponse.from_response`
 * reads the engine's `{"code", "status", "error", "source"}` (`error_data.get(...)` on a dict), and
 * `WallarooAPIError.__str__` formats `Inference failed: [code] error (source: ..., status: ...)`.
 */
function wallarooMessage(a: Answer): string {
  const data = JSON.parse(a.text)
  if (Array.isArray(data) || typeof data !== 'object') throw new TypeError("'list' object has no attribute 'get'")
  const fitzroy = 'error' in data || 'status' in data || 'source' in data
  const code = data.code ?? a.status
  const error = (fitzroy ? data.error : data.msg) || a.text
  if (typeof error !== 'string') throw new Error(`the SDK would print a dict: ${JSON.stringify(error)}`)
  const msg = `Inference failed: [${code}] ${error}`
  return fitzroy && data.source
    ? `${msg} (source: ${data.source}${data.status ? `, status: ${data.status}` : ''})`
    : msg
}

const oip = (inputs: unknown[]) => ({
  method: 'POST',
  body: JSON.stringify({ inputs }),
  headers: { 'content-type': 'application/json' },
})
const x = (rows: number) => ({ name: 'x', shape: [rows, 2], datatype: 'FP32', data: new Array(rows * 2).fill(1) })

/** Wallaroo's query (`Deployment._init_infer_params`), encoded as httpx encodes it. */
const WALLAROO_QUERY = 'dataset%5B%5D=%2A&dataset.exclude%5B%5D=metadata&dataset.separator=.'
const RECORDS = 'application/json; format=pandas-records'

describe('error bodies on /v2 routes: the OIP error object', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer({ server: { bodyLimitBytes: 4096 } })
    await s.deps.manager.deploy(spec('double', doubler(2)))
  })
  afterAll(() => s.shutdown())

  const cases: Array<[string, string, RequestInit | undefined, number, RegExp, string]> = [
    ['an unknown model', '/v2/models/nope', undefined, 404, /'nope'.*deployed: double/, 'not_found'],
    ['an unknown version', '/v2/models/double/versions/9/ready', undefined, 404, /version 9/, 'not_found'],
    ['an unknown /v2 path', '/v2/nothing/here', undefined, 404, /no route GET \/v2\/nothing\/here/, 'not_found'],
    ['a method /v2 lacks', '/v2/models/double', { method: 'DELETE' }, 404, /no route DELETE/, 'not_found'],
    ['bad input', '/v2/models/double/infer', oip([{ ...x(1), shape: [1, 3] }]), 400, /shape/, 'invalid_input'],
    [
      'malformed JSON',
      '/v2/models/double/infer',
      { method: 'POST', body: '{"inputs": [' },
      400,
      /malformed JSON/,
      'invalid_request',
    ],
    [
      'a body over the limit',
      '/v2/models/double/infer',
      oip([x(2000)]),
      413,
      /limit of 4096 bytes/,
      'payload_too_large',
    ],
  ]
  for (const [what, path, init, status, message, code] of cases) {
    it(`answers ${what} with ${status} and a string tritonclient and KServe's client print`, async () => {
      const a = await read(await s.app.request(path, init))
      expect(a.status).toBe(status)
      expect(a.type).toBe('application/json') // exactly: KServe's client reads nothing otherwise
      expect(Object.keys(JSON.parse(a.text))).toEqual(['error'])
      expect(tritonclientMessage(a)).toMatch(new RegExp(`^\\[${status}\\] .*${message.source}`))
      expect(kserveMessage(a)).toMatch(message)
      const again = await s.app.request(path, init)
      expect(again.headers.get('lastmile-error-code')).toBe(code) // the stable code, out of the body's way
    })
  }

  it("answers lastmile's own routes with the structured body its client reads", async () => {
    const res = await s.app.request('/v1/workspaces/nope')
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found')
    const unknown = await s.app.request('/v1/nothing')
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found')
    expect((await s.app.request('/v2x')).headers.get('lastmile-error-code')).toBe('not_found')
    expect(await (await s.app.request('/v2x')).json()).toMatchObject({ error: { code: 'not_found' } })
  })

  it("lets lastmile's own client read the code and message of an OIP error", async () => {
    const e = await clientFor(s.app)
      .inferOip('nope', { inputs: [x(1)] })
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(ApiError)
    expect(e).toMatchObject({ status: 404, code: 'not_found', message: expect.stringMatching(/'nope'/) })
  })

  it('answers an unexpected failure on a /v2 path with a 500 whose message is a string', async () => {
    const app = new Hono()
    app.onError(onError(silentLogger))
    app.get('/v2/boom', () => {
      throw new Error('a bug with internals in its message')
    })
    app.get('/v1/boom', () => {
      throw new Error('a bug with internals in its message')
    })
    const a = await read(await app.request('/v2/boom'))
    expect(a.status).toBe(500)
    expect(tritonclientMessage(a)).toBe('[500] internal error; the server log has the details')
    expect(JSON.parse(await (await app.request('/v1/boom')).text())).toEqual({
      error: { code: 'internal', message: 'internal error; the server log has the details' },
    })
  })
})

describe('error bodies on /v2 routes under load and with keys', () => {
  it('answers 429 with Retry-After, 504 and 503 with the OIP body', async () => {
    const s = await testServer()
    // A long queue delay keeps the first request queued while the next ones arrive.
    await s.deps.manager.deploy(
      spec('q', doubler(2), { batching: { max_queue_size: 2, max_queue_delay_ms: 300, max_batch_size: 64 } }),
    )
    await s.deps.manager.deploy(spec('slow', doubler(2), { batching: { timeout_ms: 20, max_queue_delay_ms: 200 } }))
    const first = s.app.request('/v2/models/q/infer', oip([x(2)]))
    const full = await s.app.request('/v2/models/q/infer', oip([x(1)]))
    expect(full.headers.get('retry-after')).toBe('1')
    expect(tritonclientMessage(await read(full))).toMatch(/^\[429\] /)
    expect((await first).status).toBe(200)
    const late = await read(await s.app.request('/v2/models/slow/infer', oip([x(1)])))
    expect(tritonclientMessage(late)).toMatch(/^\[504\] .*no answer within 20 ms/)
    const queued = s.app.request('/v2/models/q/infer', oip([x(1)]))
    await vi.waitFor(() => expect(s.deps.manager.require('default', 'q').queuedRows()).toBe(1))
    const shutdown = s.shutdown()
    const during = await read(await s.app.request('/v2/models/q/infer', oip([x(1)])))
    expect(tritonclientMessage(during)).toMatch(/^\[503\] .*shutting down/)
    expect((await queued).status).toBe(200)
    await shutdown
  })

  describe('with keys on', () => {
    const config = testConfig({ server: { auth: 'on' } })
    let s: Awaited<ReturnType<typeof testServer>>
    let other: string
    beforeAll(async () => {
      const store = SqliteStore.open(config.dataDir)
      const root = (await createApiKey(store, 'default', 'root', 'admin')).key
      await store.close()
      s = await testServer({ dataDir: config.dataDir, server: { auth: 'on' } })
      const admin = clientFor(s.app, root)
      await admin.createWorkspace('team')
      other = (await admin.createKey('team', 'viewer', 'viewer')).key
    })
    afterAll(() => s.shutdown())

    it("answers the route guard's 401 and 403 on /v2 with the OIP body, on /v1 with lastmile's", async () => {
      const none = await read(await s.app.request('/v2/models/double/infer', oip([x(1)])))
      expect(tritonclientMessage(none)).toMatch(/^\[401\] /)
      const wrong = await read(
        await s.app.request('/v2', { headers: { authorization: `Bearer ${other}` } }), // a key of workspace team
      )
      expect(tritonclientMessage(wrong)).toMatch(/^\[403\] /)
      expect(kserveMessage(wrong)).toEqual(expect.any(String))
      const v1 = await s.app.request('/v1/workspaces/default/pipelines')
      expect(((await v1.json()) as { error: { code: string } }).error.code).toBe('unauthorized')
    })
  })

  it('answers a refused cross-site request on /v2 with the OIP body', async () => {
    const s = await testServer()
    try {
      const res = await read(
        await s.app.request('http://127.0.0.1/v2/models/double/infer', {
          ...oip([x(1)]),
          headers: {
            'content-type': 'application/json',
            origin: 'https://evil.example',
            'sec-fetch-site': 'cross-site',
          },
        }),
      )
      expect(res.status).toBe(403)
      expect(tritonclientMessage(res)).toMatch(/^\[403\] /)
    } finally {
      await s.shutdown()
    }
  })
})

describe("error bodies on the pandas-records/Arrow route: Wallaroo's engine body for Wallaroo's SDK", () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer({ server: { bodyLimitBytes: 4096 } })
    await s.deps.manager.deploy(spec('double', doubler(2)))
  })
  afterAll(() => s.shutdown())

  const route = (name: string, query = WALLAROO_QUERY) => `/v1/workspaces/default/pipelines/${name}/infer?${query}`
  const records = (body: string) => ({ method: 'POST', body, headers: { 'content-type': RECORDS } })

  it('answers bad input, an unknown pipeline and an unknown content type so the SDK prints the message', async () => {
    const bad = await read(await s.app.request(route('double'), records('[{"x": [1, 2, 3]}]')))
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.text)).toMatchObject({ code: 400, status: 'Error', source: 'engine' })
    expect(wallarooMessage(bad)).toMatch(/^Inference failed: \[400\] .*x.*\(source: engine, status: Error\)$/)
    const missing = await read(await s.app.request(route('nope'), records('[{"x": [1, 2]}]')))
    expect(wallarooMessage(missing)).toMatch(/^Inference failed: \[404\] .*'nope'/)
    const arrow = await read(
      await s.app.request(route('double'), {
        method: 'POST',
        body: 'not arrow',
        headers: {
          'content-type': 'application/vnd.apache.arrow.file',
          format: 'arrow',
          accept: 'application/vnd.apache.arrow.file',
        },
      }),
    )
    expect(wallarooMessage(arrow)).toMatch(/^Inference failed: \[400\] /)
    const form = await read(
      await s.app.request(route('double'), {
        method: 'POST',
        body: 'x=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    )
    expect(wallarooMessage(form)).toMatch(/^Inference failed: \[415\] /)
  })

  it("answers the same route without Wallaroo's query with the body lastmile's client reads", async () => {
    const lm = clientFor(s.app)
    const e = await lm.inferRecords('default', 'nope', [{ x: [1, 2] }]).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).code).toBe('not_found')
    const res = await s.app.request(route('double', ''), records('[{"x": [1, 2, 3]}]'))
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_input')
  })
})
