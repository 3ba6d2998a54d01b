/**
 * Crash safety with a real server process: an upload in flight when the server is killed with
 * SIGKILL loses nothing acknowledged and leaves no half-written artifact; deployments come back.
 */
import type { ChildProcess } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { mlpClassifier } from '../../src/onnx/fixtures.js'
import { cliBuilt, doubler, spawnServer, tempDir } from '../helpers/server.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

async function serve(data: string) {
  const s = await spawnServer(['--data', data, '--no-demo', '--backend', 'cpu'])
  children.push(s.child)
  return s
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

    const second = await serve(data)
    const lm2 = new LastmileClient({ url: second.url })
    expect((await lm2.listModels('default')).map((m) => m.name)).toEqual(['double'])
    expect((await lm2.deployment('default', 'double')).state).toBe('ready')
    expect((await lm2.inferRecords('default', 'double', [{ x: [4] }]))[0]?.['out.y']).toEqual([8])
    expect(readdirSync(join(data, 'artifacts', 'tmp'))).toEqual([])
    const db = new Database(join(data, 'lastmile.db'), { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
    second.child.kill('SIGTERM')
  }, 120_000)
})
