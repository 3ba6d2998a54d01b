/** Building servers for tests: temp data folder, silent logs, pipelines deployed from fixtures. */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, vi } from 'vitest'
import { type JobStatus, LastmileClient } from '../../src/client/client.js'
import { type ConfigOverrides, loadConfig } from '../../src/config.js'
import { silentLogger } from '../../src/logger.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { buildServer } from '../../src/server/serve.js'
import { type DeploymentSpec, singleModelSpec } from '../../src/serving/deployment.js'
import { checkedRequest, OpenApiChecker, type OpenApiDoc } from './openapi-check.js'

export function tempDir(prefix = 'lastmile-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/**
 * What a test file's tests open, undone after each test (registers the afterEach): `closes(x)`
 * closes `x` (a store, a log), the last opened first; `dir()` is a new temporary folder and
 * `removes(path)` takes one the test made, both removed.
 */
export function afterEachTest() {
  const opened: Array<{ close(): Promise<void> }> = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const x of opened.splice(0).reverse()) await x.close()
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  const removes = (path: string) => {
    dirs.push(path)
    return path
  }
  return {
    closes<T extends { close(): Promise<void> }>(x: T): T {
      opened.push(x)
      return x
    },
    removes,
    dir: () => removes(tempDir()),
  }
}

export function testConfig(over: ConfigOverrides = {}) {
  return loadConfig(
    {},
    {
      backend: 'cpu',
      dataDir: tempDir(),
      logLevel: 'error',
      ...over,
      server: { port: 0, demo: false, ...over.server },
    },
  )
}

/** y = 2·x for x float32 [N, width]: every output row names its input row. */
export function doubler(width = 2): Uint8Array {
  const g = new GraphBuilder('doubler')
  const x = g.input('x', 'float32', ['N', width])
  g.output(g.node('Mul', [x, g.constant('two', 'float32', [1], [2])]), 'float32', ['N', width], 'y')
  return g.toModel()
}

/** A one-model pipeline named after its model (version = pipeline version unless given). */
export function spec(
  pipeline: string,
  bytes: Uint8Array,
  over: Omit<Partial<Parameters<typeof singleModelSpec>[0]>, 'model'> & { modelVersion?: number } = {},
): DeploymentSpec {
  const version = over.modelVersion ?? over.pipelineVersion ?? 1
  return singleModelSpec({ pipeline, model: { name: pipeline, version, bytes }, ...over })
}

/** Something answering requests in-process: a Hono app, or anything with its `request`. */
type Requestable = { request(url: string, init?: RequestInit): Response | Promise<Response> }

const checked = new WeakSet<Requestable>()

/**
 * Check every response `app.request` gives against the app's OpenAPI document from now on (route
 * and status documented, JSON bodies valid against their schemas: openapi-check.ts). Returns `app`.
 */
function checkResponses<A extends Requestable>(app: A): A {
  if (checked.has(app)) return app
  const original = app.request.bind(app)
  // The document is asked for by absolute URL, as the client asks for everything.
  app.request = checkedRequest((url, init) => original(url, init), 'http://lastmile.test')
  checked.add(app)
  return app
}

/**
 * `fetch` against a listening server, every response checked against its OpenAPI document, which is
 * read first: a test's requests never race the document's.
 */
export async function checkedFetch(origin: string): Promise<(url: string, init?: RequestInit) => Promise<Response>> {
  const checker = new OpenApiChecker((await (await fetch(`${origin}/openapi.json`)).json()) as OpenApiDoc)
  return async (url, init) => checker.check(init?.method ?? 'GET', url, await fetch(url, init))
}

/**
 * A built (not listening) server with a record of what it logged as inferences; every response of
 * its `app.request` is checked against its OpenAPI document.
 */
export async function testServer(over: ConfigOverrides = {}) {
  const records: InferenceRecord[] = []
  const built = await buildServer(testConfig(over), { log: silentLogger, sink: { append: (r) => records.push(r) } })
  checkResponses(built.app)
  return { ...built, records }
}

/**
 * A built server with pipeline `m` (a doubler) deployed in `default` and an assay on its `in.x`:
 * something behind every route that takes a query. `assay` is the assay's id.
 */
export async function serverWithAssay() {
  const s = await testServer()
  const lm = clientFor(s.app)
  await lm.uploadModel('default', 'm', doubler(1))
  await lm.putPipeline('default', 'm', [{ model: 'm' }])
  await lm.deploy('default', 'm')
  const res = await s.app.request(
    '/v1/workspaces/default/assays',
    post({ name: 'a', pipeline: 'm', iopath: 'in.x', baseline: { values: [1, 2, 3] }, window: { width: '1s' } }),
  )
  return { s, assay: ((await res.json()) as { id: number }).id }
}

/** `RequestInit` of a JSON POST, for `app.request(url, post(body))`. */
export const post = (body: unknown) => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
})

/** A typed client talking to a built server's app in-process (responses checked, as {@link checkResponses}). */
export function clientFor(app: Requestable, apiKey?: string) {
  checkResponses(app)
  return new LastmileClient({
    url: 'http://lastmile.test',
    ...(apiKey ? { apiKey } : {}),
    fetch: async (url, init) => app.request(url, init),
  })
}

export const binPath = new URL('../../bin/lastmile.js', import.meta.url).pathname
/** Whether dist/ exists (the CLI tests need it; `npm test` builds it first). */
export const cliBuilt = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url))

/** `lastmile serve <args>` in a child process; resolves once it prints its URL. */
export async function spawnServer(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; output(): string }> {
  const child = spawn(process.execPath, [binPath, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  let out = ''
  child.stdout?.on('data', (b) => {
    out += b
  })
  const url = await vi.waitFor(
    () => {
      const m = /serving on (http:\/\/\S+)/.exec(out)
      if (!m) throw new Error('not up yet')
      return m[1] as string
    },
    { timeout: 30_000, interval: 50 },
  )
  return { url, child, output: () => out }
}

/** Run the built CLI asynchronously (a test's in-process server keeps serving meanwhile). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [binPath, ...args], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (b) => {
      stdout += b
    })
    child.stderr?.on('data', (b) => {
      stderr += b
    })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A job once it has ended (succeeded, failed or cancelled), polled through the client. */
export function finishedJob(lm: LastmileClient, id: string): Promise<JobStatus> {
  return vi.waitFor(
    async () => {
      const j = await lm.job(id)
      if (j.status === 'queued' || j.status === 'running') throw new Error(`still ${j.status}`)
      return j
    },
    { timeout: 60_000, interval: 50 },
  )
}

/** An inference log that keeps a day, never rolls or flushes on its own during a test, and samples every request. */
export const TEST_LOG_CONFIG = {
  sampleRate: 1,
  retentionHours: 24,
  rollBytes: 64 * 1024 * 1024,
  rollSeconds: 3600,
  flushMs: 60_000,
  maxBufferedRows: 100_000,
  maxBufferedBytes: 64 * 1024 * 1024,
}
