/**
 * Job roles through the real server (a socket, API keys): a job is cancelled or deleted only by
 * the key that created it or a deployer or admin of its workspace, and a viewer's upload past
 * LASTMILE_JOB_VIEWER_UPLOAD_LIMIT_BYTES is a 413 naming the setting, refused before the body is
 * stored, while a deployer may send more.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type ApiError, LastmileClient } from '../../src/client/client.js'
import { createApiKey } from '../../src/registry/keys.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { FLIGHTS_200K, flightsModel } from '../helpers/flights.js'
import { testConfig } from '../helpers/server.js'

const VIEWER_LIMIT = 2 * 2 ** 20 // above the 1.6 MB flights file, below what the test sends as too large
const flights = readFileSync(FLIGHTS_200K)

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (e) {
    return e as ApiError
  }
  throw new Error('expected the call to fail')
}

describe('job roles', () => {
  // Chunks of 10 rows keep a 200k-row job running long enough to be cancelled.
  const config = testConfig({
    server: { auth: 'on' },
    jobs: { chunkRows: 10, viewerUploadLimitBytes: VIEWER_LIMIT },
  })
  let server: RunningServer
  const keys: Record<'viewerA' | 'viewerB' | 'deployer' | 'stranger', string> = {
    viewerA: '',
    viewerB: '',
    deployer: '',
    stranger: '',
  }
  const as = (who: keyof typeof keys) => new LastmileClient({ url: server.url, apiKey: keys[who] })
  const createAs = (who: keyof typeof keys) =>
    as(who).createJob('team', 'delays', flights, { format: 'arrow', features: ['distance', 'time'] })
  const jobFolders = () => readdirSync(join(config.dataDir, 'jobs')).sort()

  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    const root = (await createApiKey(store, 'default', 'root', 'admin')).key
    await store.close()
    server = await startServer(config)
    const admin = new LastmileClient({ url: server.url, apiKey: root })
    for (const ws of ['team', 'other']) await admin.createWorkspace(ws)
    await admin.uploadModel('team', 'delays', flightsModel().bytes)
    await admin.putPipeline('team', 'delays', [{ model: 'delays' }])
    await admin.deploy('team', 'delays', { engine: 'cpu' })
    keys.viewerA = (await admin.createKey('team', 'alice', 'viewer')).key
    keys.viewerB = (await admin.createKey('team', 'bob', 'viewer')).key
    keys.deployer = (await admin.createKey('team', 'ci', 'deployer')).key
    keys.stranger = (await admin.createKey('other', 'eve', 'admin')).key
  })
  afterAll(() => server.close())

  it("lets only the creator or a deployer cancel or delete a viewer's job", async () => {
    const job = await createAs('viewerA')
    const refused = await failure(as('viewerB').cancelJob(job.id))
    expect(refused.status).toBe(403)
    expect(refused.message).toMatch(
      new RegExp(
        `this key \\(viewer in 'team'\\) cannot cancel or delete job '${job.id}': only the key that created it, or a deployer or admin of workspace 'team', can`,
      ),
    )
    expect((await failure(as('stranger').cancelJob(job.id))).status).toBe(403) // another workspace's admin
    expect((await as('viewerB').job(job.id)).status).not.toBe('cancelled') // B may still read it

    await as('viewerA').cancelJob(job.id) // the creator cancels...
    const settled = async (id: string) =>
      vi.waitFor(
        async () => {
          const j = await as('viewerB').job(id)
          if (j.status === 'queued' || j.status === 'running') throw new Error(j.status)
          return j
        },
        { timeout: 30_000, interval: 20 },
      )
    expect((await settled(job.id)).status).toBe('cancelled')
    expect((await failure(as('viewerB').cancelJob(job.id))).status).toBe(403) // ...and only they delete it
    expect(await as('viewerA').cancelJob(job.id)).toBeUndefined()
    expect((await failure(as('viewerA').job(job.id))).status).toBe(404)

    const other = await createAs('viewerA')
    await as('deployer').cancelJob(other.id) // a deployer of the workspace cancels anyone's job
    expect((await settled(other.id)).status).toBe('cancelled')
    expect(await as('deployer').cancelJob(other.id)).toBeUndefined() // and deletes it
  })

  it("refuses a viewer's upload past its limit before storing it, and takes it from a deployer", async () => {
    const big = new Uint8Array(VIEWER_LIMIT + 4096).fill(0x41)
    const before = jobFolders()
    const declared = await failure(
      as('viewerA').createJob('team', 'delays', big, { format: 'csv', features: ['distance', 'time'] }),
    )
    expect(declared.status).toBe(413)
    expect(declared.message).toBe(
      `the file is larger than ${VIEWER_LIMIT} bytes, the largest job upload from a viewer key (LASTMILE_JOB_VIEWER_UPLOAD_LIMIT_BYTES)`,
    )
    // Sent without a length (chunked): refused once past the limit, and nothing of it is kept.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let at = 0; at < big.length; at += 65_536) c.enqueue(big.subarray(at, at + 65_536))
        c.close()
      },
    })
    const streamed = await failure(
      as('viewerA').createJob('team', 'delays', chunks, { format: 'csv', features: ['distance', 'time'] }),
    )
    expect(streamed.status).toBe(413)
    expect(streamed.message).toMatch(/LASTMILE_JOB_VIEWER_UPLOAD_LIMIT_BYTES/)
    expect(jobFolders()).toEqual(before)

    // The same size from a deployer is past no limit of its own: it is read, and refused as a bad CSV.
    const deployer = await failure(
      as('deployer').createJob('team', 'delays', big, { format: 'csv', features: ['distance', 'time'] }),
    )
    expect(deployer.status).toBe(400)
    expect(jobFolders()).toEqual(before)
  })
})
