/**
 * The assay layer's small parts, on their own: alert webhook delivery (which answers count as
 * delivered, which are retried and how often, with what backoff, what is logged) against a scripted
 * outbound policy, and the times and durations of assay definitions, each unit and bound written out.
 */
import { describe, expect, it } from 'vitest'
import { parseDuration, parseTime } from '../../src/assays/time.js'
import { Webhooks } from '../../src/assays/webhooks.js'
import { InvalidConfigError, OutboundRefusedError } from '../../src/errors.js'
import type { Logger } from '../../src/logger.js'
import type { OutboundPolicy, OutboundRequest, OutboundResponse } from '../../src/outbound/policy.js'

interface Logged {
  level: string
  msg: string
  fields: Record<string, unknown>
}

/** Webhooks over an outbound policy that answers each call with the next of `answers`. */
function harness(answers: Array<number | Error | { status: number; location?: string }>, attempts = 3) {
  const calls: Array<{ url: string; req: OutboundRequest; at: number }> = []
  const logged: Logged[] = []
  const log =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      logged.push({ level, msg, fields: fields ?? {} })
    }
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
  const outbound = {
    send: async (url: string, req: OutboundRequest): Promise<OutboundResponse> => {
      calls.push({ url, req, at: performance.now() })
      const a = answers[Math.min(calls.length - 1, answers.length - 1)]
      if (a instanceof Error) throw a
      const r = typeof a === 'number' ? { status: a } : (a as { status: number; location?: string })
      return { ...r, body: new Uint8Array(), truncated: false }
    },
  } as unknown as OutboundPolicy
  const hooks = new Webhooks({ outbound, logger, attempts, baseDelayMs: 20 })
  return { hooks, calls, logged }
}

describe('alert webhooks', () => {
  it('POSTs the payload as JSON to each URL and stops at the first 2xx', async () => {
    for (const status of [200, 204, 299]) {
      const h = harness([status])
      h.hooks.post(['http://a.test/x', 'http://b.test/y'], '{"alert":1}', { assay: 7 })
      await h.hooks.idle()
      expect(h.calls.map((c) => c.url)).toEqual(['http://a.test/x', 'http://b.test/y'])
      expect(h.calls[0]?.req).toEqual({
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"alert":1}',
      })
      expect(h.logged).toEqual([])
    }
  })

  it('retries a failure a retry can fix, doubling the delay, and logs once when it gives up', async () => {
    const h = harness([500, new Error('ECONNRESET'), 503, 418], 4)
    h.hooks.post(['http://a.test/x'], '{}', { assay: 3 })
    await h.hooks.idle()
    expect(h.calls).toHaveLength(4)
    const gaps = h.calls.slice(1).map((c, i) => c.at - (h.calls[i]?.at as number))
    // 20, 40, 80 ms (timers fire late, never early: each gap is at least its delay, and each the
    // larger than the one before by about twice).
    expect(gaps[0]).toBeGreaterThanOrEqual(19)
    expect(gaps[1]).toBeGreaterThanOrEqual(39)
    expect(gaps[2]).toBeGreaterThanOrEqual(79)
    expect(h.logged).toEqual([
      {
        level: 'error',
        msg: 'webhook failed',
        fields: { assay: 3, url: 'http://a.test/x', attempts: 4, error: 'HTTP 418' },
      },
    ])
  })

  it('counts a success after failures as delivered, and a 1xx or a 4xx as failures', async () => {
    const h = harness([199, 400, 200])
    h.hooks.post(['http://a.test/x'], '{}', {})
    await h.hooks.idle()
    expect(h.calls).toHaveLength(3)
    expect(h.logged).toEqual([])
    const thrown = harness([new Error('socket hang up')], 2)
    thrown.hooks.post(['http://a.test/x'], '{}', { assay: 1 })
    await thrown.hooks.idle()
    expect(thrown.logged).toEqual([
      {
        level: 'error',
        msg: 'webhook failed',
        fields: { assay: 1, url: 'http://a.test/x', attempts: 2, error: 'socket hang up' },
      },
    ])
  })

  it('never follows or retries a redirect: logged once with its Location', async () => {
    for (const status of [300, 302, 399]) {
      const h = harness([{ status, location: 'http://127.0.0.1/internal' }, 200])
      h.hooks.post(['http://a.test/x'], '{}', { assay: 2 })
      await h.hooks.idle()
      expect(h.calls).toHaveLength(1)
      expect(h.logged).toEqual([
        {
          level: 'error',
          msg: 'webhook failed: redirects are not followed',
          fields: { assay: 2, url: 'http://a.test/x', status, location: 'http://127.0.0.1/internal' },
        },
      ])
    }
    const bare = harness([301])
    bare.hooks.post(['http://a.test/x'], '{}', {})
    await bare.hooks.idle()
    expect(bare.logged[0]?.fields.location).toBeNull()
  })

  it("never retries the outbound policy's refusal: logged once with its reason", async () => {
    const h = harness([new OutboundRefusedError('http://10.0.0.1/', 'a private address'), 200])
    h.hooks.post(['http://10.0.0.1/'], '{}', { assay: 5 })
    await h.hooks.idle()
    expect(h.calls).toHaveLength(1)
    expect(h.logged).toEqual([
      {
        level: 'error',
        msg: 'webhook refused by the outbound policy',
        fields: { assay: 5, url: 'http://10.0.0.1/', reason: 'a private address' },
      },
    ])
  })

  it('does not make the caller wait, and idle() waits for every delivery', async () => {
    const h = harness([500, 200])
    h.hooks.post(['http://a.test/x'], '{}', {})
    expect(h.calls).toHaveLength(1) // the first attempt started; its retry has not
    await h.hooks.idle()
    expect(h.calls).toHaveLength(2)
    await h.hooks.idle() // nothing in flight: resolves at once
  })
})

describe('assay times and durations', () => {
  it('reads durations as seconds or with a unit', () => {
    expect(parseDuration(90)).toBe(90_000)
    expect(parseDuration(0.5)).toBe(500)
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('24h')).toBe(86_400_000)
    expect(parseDuration('7d')).toBe(604_800_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration(' 2 m ')).toBe(120_000)
  })

  it('refuses what is not a duration, saying what is', () => {
    for (const bad of [
      0,
      -5,
      Number.POSITIVE_INFINITY,
      '',
      '15',
      '15w',
      'm',
      '-3s',
      '1e3s',
      's15',
      '15 minutes',
      null,
    ]) {
      expect(() => parseDuration(bad)).toThrow(InvalidConfigError)
    }
    expect(() => parseDuration('15w')).toThrow(`'15w' is not a duration: use seconds, or "30s", "15m", "24h", "7d"`)
  })

  it('reads times as ISO 8601 or ms since the epoch, as a number or a numeric string', () => {
    expect(parseTime('2024-05-01T00:00:00Z')).toBe(1_714_521_600_000)
    expect(parseTime('2024-05-01T02:00:00+02:00')).toBe(1_714_521_600_000)
    expect(parseTime(1_714_521_600_000)).toBe(1_714_521_600_000)
    expect(parseTime('1714521600000')).toBe(1_714_521_600_000)
    expect(parseTime(' 42 ')).toBe(42)
    expect(parseTime(-1000)).toBe(-1000)
    expect(parseTime(0)).toBe(0)
    // The range a Date holds: ±8.64e15 ms, both ends included.
    expect(parseTime(8.64e15)).toBe(8.64e15)
    expect(parseTime(-8.64e15)).toBe(-8.64e15)
  })

  it('refuses what is not a time, or beyond what a Date holds', () => {
    for (const bad of ['', '   ', 'yesterday', '2024-13-45', Number.NaN, 8.64e15 + 1, -8.64e15 - 1, '9e15', {}, null]) {
      expect(() => parseTime(bad)).toThrow(InvalidConfigError)
    }
    expect(() => parseTime('soon')).toThrow(
      "'soon' is not a time: use ISO 8601 (2024-05-01T00:00:00Z) or ms since the epoch (at most 8640000000000000)",
    )
  })
})
