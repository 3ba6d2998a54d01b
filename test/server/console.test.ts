/**
 * How the server serves the console: the page revalidated (no-cache, ETag, 304) under a strict
 * Content-Security-Policy, hashed assets cached for a year, only files of the built folder and
 * of known types, nothing for a path that tries to leave it, a clear 503 when the console is not
 * built; and `GET /v1/me`, which tells the console what the key may do.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { createApiKey } from '../../src/registry/keys.js'
import { createApp } from '../../src/server/app.js'
import { consoleDir, loadConsole } from '../../src/server/console.js'
import { buildServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { tempDir, testConfig } from '../helpers/server.js'

describe('the console as the server serves it', () => {
  const dir = tempDir('lastmile-console-')
  let built: Awaited<ReturnType<typeof buildServer>>
  let app: ReturnType<typeof createApp>['app']
  const html = '<!doctype html><title>console</title><script type="module" src="/assets/index-AbC123.js"></script>'
  const js = 'console.log("hello")'

  beforeAll(async () => {
    mkdirSync(join(dir, 'assets'))
    writeFileSync(join(dir, 'index.html'), html)
    writeFileSync(join(dir, 'assets', 'index-AbC123.js'), js)
    writeFileSync(join(dir, 'assets', 'index-AbC123.js.map'), '{}') // a type the server does not serve
    writeFileSync(join(dir, 'secret.txt'), 'not an asset')
    built = await buildServer(testConfig(), { log: silentLogger })
    app = createApp({ ...built.deps, console: loadConsole(dir) }).app
  })
  afterAll(async () => {
    await built.shutdown()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves the page for revalidation, with a policy that allows only its own origin', async () => {
    const res = await app.request('/')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(html)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp.split('; ')).toEqual(
      expect.arrayContaining([
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
      ]),
    )
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    const etag = res.headers.get('etag') as string
    expect(etag).toMatch(/^"[\w-]{22}"$/)
    const again = await app.request('/', { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect((await app.request('/', { headers: { 'if-none-match': '"other"' } })).status).toBe(200)
  })

  it('serves hashed assets cached for a year, and nothing else of the folder', async () => {
    const res = await app.request('/assets/index-AbC123.js')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(js)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    for (const path of [
      '/assets/index-AbC123.js.map',
      '/assets/missing.js',
      '/assets/../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/..%2fsecret.txt',
      '/secret.txt',
      '/index.html',
      '/assets/',
    ]) {
      const r = await app.request(path)
      expect(r.status, path).toBe(404)
      expect(await r.text(), path).not.toContain('not an asset')
    }
  })

  it('sends the gzip of each file to a client that accepts it', async () => {
    // Big enough that its gzip is smaller: a repetitive script.
    const big = await app.request('/', { headers: { 'accept-encoding': 'br, gzip;q=0.8' } })
    expect(big.headers.get('vary')).toBe('Accept-Encoding')
    const encoded = big.headers.get('content-encoding')
    const bytes = new Uint8Array(await big.arrayBuffer())
    // index.html here is short: gzip only where it is smaller, and always what the file holds once decoded.
    expect(encoded === 'gzip' ? gunzipSync(bytes).toString() : Buffer.from(bytes).toString()).toBe(html)
    const repeated = `export const values = [${'1.5, '.repeat(4000)}]\n`
    writeFileSync(join(dir, 'assets', 'big-Q1w2E3.js'), repeated)
    const reloaded = createApp({ ...built.deps, console: loadConsole(dir) }).app
    const gz = await reloaded.request('/assets/big-Q1w2E3.js', { headers: { 'accept-encoding': 'gzip, deflate' } })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    const zipped = new Uint8Array(await gz.arrayBuffer())
    expect(zipped.length).toBeLessThan(repeated.length / 10)
    expect(gunzipSync(zipped).toString()).toBe(repeated)
    const plain = await reloaded.request('/assets/big-Q1w2E3.js', { headers: { 'accept-encoding': 'identity' } })
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(repeated)
  })

  it('answers 503 saying how to build it when the console is not built', async () => {
    for (const assets of [loadConsole(undefined), loadConsole(join(dir, 'assets'))]) {
      const res = await createApp({ ...built.deps, console: assets }).app.request('/')
      expect(res.status).toBe(503)
      expect(await res.text()).toMatch(/The console is not built: run `npm run build`/)
      expect((await createApp({ ...built.deps, console: assets }).app.request('/assets/index-AbC123.js')).status).toBe(
        404,
      )
    }
  })

  it('tells a keyless caller it may do everything', async () => {
    const res = await app.request('/v1/me')
    expect(await res.json()).toEqual({ auth: false, key: null, server_admin: true })
  })
})

describe('GET /v1/me with keys on', () => {
  const config = testConfig({ server: { auth: 'on' } })
  let built: Awaited<ReturnType<typeof buildServer>>
  const keys: Record<string, { key: string; id: string }> = {}

  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    keys.root = await createApiKey(store, 'default', 'root', 'admin')
    await store.workspaces.create('team')
    keys.viewer = await createApiKey(store, 'team', 'dash', 'viewer')
    keys.teamAdmin = await createApiKey(store, 'team', 'boss', 'admin')
    await store.close()
    built = await buildServer(config, { log: silentLogger })
  })
  afterAll(() => built.shutdown())

  const me = async (key?: string) => {
    const res = await built.app.request('/v1/me', key ? { headers: { authorization: `Bearer ${key}` } } : {})
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  it("answers each key's workspace and role; only an admin of default is a server admin", async () => {
    const viewer = await me(keys.viewer?.key)
    expect(viewer.status).toBe(200)
    expect(viewer.body).toMatchObject({
      auth: true,
      key: { id: keys.viewer?.id, workspace: 'team', name: 'dash', role: 'viewer' },
      server_admin: false,
    })
    expect(JSON.stringify(viewer.body)).not.toContain(keys.viewer?.key as string) // never the secret
    expect((await me(keys.teamAdmin?.key)).body).toMatchObject({
      key: { role: 'admin', workspace: 'team' },
      server_admin: false,
    })
    expect((await me(keys.root?.key)).body).toMatchObject({
      key: { role: 'admin', workspace: 'default' },
      server_admin: true,
    })
  })

  it('answers 401 without a key or with a wrong one', async () => {
    expect((await me()).status).toBe(401)
    expect((await me('lm_wrong')).status).toBe(401)
  })
})

describe('the built console', () => {
  const assets = loadConsole(consoleDir())
  const built = assets.has('/')
  if (!built && process.env.LASTMILE_REQUIRE_TOOLS === '1')
    throw new Error('LASTMILE_REQUIRE_TOOLS=1 but the console is not built: npm run build')

  it.skipIf(!built)('loads under 200 KB of compressed JavaScript, every script the page names', () => {
    const page = new TextDecoder().decode(assets.get('/')?.body)
    const scripts = [...page.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1] as string)
    const preloads = [...page.matchAll(/<link rel="modulepreload"[^>]+href="([^"]+)"/g)].map((m) => m[1] as string)
    expect(scripts.length).toBeGreaterThan(0)
    let total = 0
    for (const src of [...scripts, ...preloads]) {
      const asset = assets.get(src)
      expect(asset, src).toBeDefined()
      total += gzipSync(asset?.body as Uint8Array).length
    }
    expect(total).toBeLessThan(200 * 1024)
  })
})
