/**
 * Crash safety with a real server process: uploads in flight when the server is killed with
 * SIGKILL (a model and a job's input) lose nothing acknowledged, and what they left on disk is
 * gone after the next start; deployments come back.
 */
import type { ChildProcess } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { mlpClassifier } from '../fixtures/models.js'
import { cliBuilt, doubler, spawnServer, tempDir } from '../helpers/server.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

async function serve(data: string) {
  const s = await spawnServer(['--data', data, '--no-demo', '--backend', 'cpu'])
  children.push(s.child)
  let stderr = ''
  s.child.stderr?.on('data', (b) => {
    stderr += b
  })
  return { ...s, stderr: () => stderr }
}

/** Every file under `dir`, relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(dir, f))
}

/** A body that sends `chunk` every 5 ms and never ends (the server dies first). */
function endless(chunk: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      controller.enqueue(chunk)
      await new Promise((r) => setTimeout(r, 5))
    },
  })
}

const built = cliBuilt
describe.runIf(built)(`crash safety${built ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`, () => {
  it('kill -9 mid-upload and a restart lose nothing acknowledged', async () => {
    const data = tempDir()
    const first = await serve(data)
    // Uploaded the way `curl --data-binary @model.onnx` sends it (form content type, raw bytes).
    const up = await fetch(`${first.url}/v1/workspaces/default/models/double`, {
      method: 'POST',
      body: doubler(1) as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(up.status).toBe(201)
    const lm = new LastmileClient({ url: first.url })
    await lm.putPipeline('default', 'double', [{ model: 'double' }])
    await lm.deploy('default', 'double')
    expect((await lm.inferRecords('default', 'double', [{ x: [21] }]))[0]?.['out.y']).toEqual([42])

    // A job's input, streamed slowly: its folder and temp file exist, its job does not yet.
    const job = fetch(`${first.url}/v1/workspaces/default/pipelines/double/jobs?format=csv`, {
      method: 'POST',
      body: endless(new TextEncoder().encode('x_0\n1\n'.repeat(4096))),
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit).catch((e: unknown) => e)
    await expect
      .poll(() => files(join(data, 'jobs')).filter((f) => f.endsWith('.tmp')).length, { timeout: 30_000 })
      .toBe(1)

    // A big upload, streamed slowly; the server dies half-way through it.
    const big = mlpClassifier({ features: 64, hidden: [1024, 1024], classes: 10, name: 'big' }).bytes
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= big.length) return controller.close()
        const chunk = big.subarray(sent, sent + 256 * 1024)
        sent += chunk.length
        controller.enqueue(chunk)
        if (sent > big.length / 2) first.child.kill('SIGKILL')
        await new Promise((r) => setTimeout(r, 5))
      },
    })
    const exited = new Promise((r) => first.child.once('exit', r))
    await expect(
      fetch(`${first.url}/v1/workspaces/default/models/big`, { method: 'POST', body, duplex: 'half' } as RequestInit),
    ).rejects.toThrow()
    await exited
    expect(await job).toBeInstanceOf(Error)
    const leftovers = files(join(data, 'jobs'))
    expect(leftovers).toEqual([expect.stringMatching(/^job-[^/]+\/input\.csv\.tmp$/)])

    const second = await serve(data)
    const lm2 = new LastmileClient({ url: second.url })
    expect((await lm2.listModels('default')).map((m) => m.name)).toEqual(['double'])
    expect((await lm2.deployment('default', 'double')).state).toBe('ready')
    expect((await lm2.inferRecords('default', 'double', [{ x: [4] }]))[0]?.['out.y']).toEqual([8])
    // Nothing the killed uploads left is there: no temp file, no job folder, no unused artifact.
    const sha = (await lm2.getModelVersion('default', 'double', 1)).sha256
    expect(files(join(data, 'artifacts'))).toEqual([join(sha.slice(0, 2), `${sha}.onnx`)])
    expect(readdirSync(join(data, 'jobs'))).toEqual([])
    expect(second.stderr()).toContain(`data folder tidied at start {"removed":["jobs/${leftovers[0]?.split('/')[0]}"]`)
    const db = new Database(join(data, 'lastmile.db'), { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
    second.child.kill('SIGTERM')
  }, 120_000)
})
