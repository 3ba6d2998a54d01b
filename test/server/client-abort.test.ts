/**
 * A client that closes its connection mid-body (review F9) is counted as 499, nginx's "client
 * closed request", and logged below error level: before, each one was an `error unexpected error`
 * line with a stack and a `code="500"` in lastmile_requests_total, so anyone could inflate the 5xx
 * rate that error alerts watch. Through a listening server and raw sockets, as the review's repro.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Logger } from '../../src/logger.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, spec, testConfig } from '../helpers/server.js'

/** Send a request declaring `declared` body bytes, send `sent` of them, then close the socket. */
async function abandon(port: number, path: string, type: string, declared: number, sent: number): Promise<void> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${type}\r\nContent-Length: ${declared}\r\n\r\n`
  await new Promise<void>((resolve, reject) =>
    socket.write(head + ' '.repeat(sent), (e) => (e ? reject(e) : resolve())),
  )
  socket.destroy()
}

describe('requests whose client closed the connection', () => {
  let server: RunningServer
  const lines: Array<{ level: keyof Logger; msg: string }> = []
  const log: Logger = {
    debug: (msg) => lines.push({ level: 'debug', msg }),
    info: (msg) => lines.push({ level: 'info', msg }),
    warn: (msg) => lines.push({ level: 'warn', msg }),
    error: (msg) => lines.push({ level: 'error', msg }),
  }

  beforeAll(async () => {
    server = await startServer(testConfig(), { log })
    await server.deps.manager.deploy(spec('m', doubler(4)))
  })
  afterAll(() => server.close())

  const counted = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    return text.split('\n').filter((l) => l.startsWith('lastmile_requests_total{'))
  }

  it('counts aborted bodies as 499, large and small, OIP and pandas-records, and logs no error', async () => {
    const port = Number(new URL(server.url).port)
    for (let i = 0; i < 3; i++) await abandon(port, '/v2/models/m/infer', 'application/json', 2_000_000, 1_500_000)
    await abandon(port, '/v2/models/m/infer', 'application/json', 2000, 1000)
    const records = 'application/json; format=pandas-records'
    await abandon(port, '/v1/workspaces/default/pipelines/m/infer', records, 2_000_000, 1_500_000)
    await vi.waitFor(
      async () => {
        const series = await counted()
        expect(series).toContain(
          'lastmile_requests_total{workspace="default",pipeline="m",protocol="oip",code="499"} 4',
        )
        expect(series).toContain(
          'lastmile_requests_total{workspace="default",pipeline="m",protocol="records",code="499"} 1',
        )
      },
      { timeout: 30_000, interval: 100 },
    )
    expect((await counted()).filter((l) => /code="5\d\d"/.test(l))).toEqual([])
    expect(lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([])
    // Still serving, and an answered request is counted as before.
    const ok = await fetch(`${server.url}/v2/models/m/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
    })
    expect(ok.status).toBe(200)
    expect(await counted()).toContain(
      'lastmile_requests_total{workspace="default",pipeline="m",protocol="oip",code="200"} 1',
    )
  })
})
