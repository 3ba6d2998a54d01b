/**
 * What the objective service tests share: a real store in a temporary folder, the real outbound
 * policy (local addresses allowed) posting to a real local receiver that keeps each webhook's body
 * and path, an injected clock, and a logger that keeps what it was told. Call inside a `describe`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import type { Logger } from '../../src/logger.js'
import { OutboundPolicy } from '../../src/outbound/policy.js'
import { SloService } from '../../src/slo/service.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'

export const M = 60_000
export const DAY = 86_400_000
/** A minute boundary, so minute k of a test starts at T0 + k·M. */
export const T0 = Date.UTC(2026, 0, 10)

export function sloHarness() {
  const h = {
    hooks: [] as Array<Record<string, unknown>>,
    lines: [] as Array<{ level: string; msg: string; fields: Record<string, unknown> }>,
    url: '',
    store: undefined as unknown as SqliteStore,
    now: T0,
    service(): SloService {
      const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
        h.lines.push({ level, msg, fields: fields ?? {} })
      const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
      return new SloService({
        store: h.store,
        logger,
        outbound: new OutboundPolicy({
          allowLocal: true,
          allowlist: [],
          connectTimeoutMs: 5000,
          responseTimeoutMs: 5000,
          maxResponseBytes: 1024,
        }),
        webhookAttempts: 1,
        now: () => h.now,
      })
    },
    /** An availability objective of 99.9% alerting to the receiver. */
    availability: () => ({
      objectives: [{ name: 'up', indicator: 'availability', target: 0.999 }],
      alerting: { webhooks: [h.url] },
    }),
    /** Three days of good minutes before T0, 100 requests each, written straight to the store. */
    async goodHistory(objective: string) {
      const buckets = []
      for (let m = T0 - 3 * DAY; m < T0; m += M)
        buckets.push({ workspace: 'default', pipeline: 'p', objective, arm: '', minute: m, good: 100, total: 100 })
      await h.store.slo.add(buckets)
    },
    /** One minute of 100 requests, `bad` of them 5xx, then the clock at the next minute and a tick. */
    async minute(svc: SloService, bad: number) {
      for (let i = 0; i < 100; i++) {
        h.now = Math.floor(h.now / M) * M + i * 500
        svc.record('default', 'p', { code: i < bad ? 503 : 200, ms: 3, rows: 1 })
      }
      h.now = Math.floor(h.now / M) * M + M
      await svc.tick()
      await svc.idle()
    },
  }
  let receiver: Server
  let dir = ''
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        h.hooks.push({ ...JSON.parse(body), path: req.url })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    h.url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/slo`
  })
  afterAll(() => new Promise((r) => receiver.close(r)))
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lastmile-slo-'))
    h.store = SqliteStore.open(dir)
    h.hooks.length = 0
    h.lines.length = 0
    h.now = T0
  })
  afterEach(async () => {
    await h.store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return h
}
