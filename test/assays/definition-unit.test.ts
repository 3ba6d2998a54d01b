/**
 * Assay definitions on their own (src/assays/definition.ts): a stored definition read back or
 * refused naming the row and field, a stored window grid, the limits (narrowest window, windows per
 * run, values per request, webhooks) just at and one over each, with their exact messages and
 * details, the window count of a range, the thresholds handed to the computation, and how a schema
 * refusal is worded. Expected values are written out by hand (durations in ms, ISO times as epoch ms).
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  checkRequestValues,
  checkRunWindows,
  checkWebhooks,
  checkWindow,
  invalid,
  storedDefinition,
  thresholdsOf,
  windowOf,
  windowsIn,
} from '../../src/assays/definition.js'
import { InvalidConfigError } from '../../src/errors.js'
import { CorruptRowError } from '../../src/store/schemas.js'
import type { AssayRecord } from '../../src/store/types.js'
import { expectRefusal, refusal } from '../helpers/refusal.js'
import { limits } from './assay-fakes.js'

/** 2024-05-01T00:00:00Z in ms since the epoch. */
const MAY_1 = 1_714_521_600_000

const record = (config: unknown, id = 7): AssayRecord => ({
  id,
  workspace: 'default',
  pipeline: 'temps',
  name: 'drift',
  config: config as Record<string, unknown>,
  baseline: Float64Array.from([1, 2, 3, 4]),
  active: true,
  createdAt: '2024-05-01T00:00:00.000Z',
})

const stored = {
  name: 'drift',
  pipeline: 'temps',
  iopath: 'in.x[0]',
  baseline: { values: 4 },
  window: { width: '1h', start: '2024-05-01T00:00:00Z' },
}

/** The refusal `f` throws, with the details lastmile's errors carry. */
const details = (f: () => unknown) => (refusal(f) as InvalidConfigError).details

describe('stored definitions', () => {
  it('reads a stored definition back with the defaults filled in', () => {
    expect(storedDefinition(record(stored))).toEqual({
      name: 'drift',
      pipeline: 'temps',
      iopath: 'in.x[0]',
      baseline: { values: 4 },
      summarizer: {
        bin_mode: 'quantile',
        num_bins: 5,
        add_outlier_edges: true,
        aggregation: 'density',
        metric: 'psi',
      },
      alert_threshold: 0.25,
      window: { width: '1h', start: '2024-05-01T00:00:00Z' },
      webhooks: [],
      active: true,
    })
  })

  it('refuses a stored definition changed outside lastmile, naming the row and the field', () => {
    const { start: _, ...noStart } = stored.window
    expectRefusal(
      () => storedDefinition(record({ ...stored, window: noStart })),
      CorruptRowError,
      "table 'assays', column 'config' of row (id=7) at .window.start: Invalid input; the database was changed outside lastmile or is corrupt",
    )
    // A later webhook of several is the bad one.
    expectRefusal(
      () => storedDefinition(record({ ...stored, webhooks: ['http://a.test/x', 'not a url'] }, 12)),
      CorruptRowError,
      "table 'assays', column 'config' of row (id=12) at .webhooks[1]: Invalid URL; the database was changed outside lastmile or is corrupt",
    )
  })

  it('refuses a stored definition that is no object at all, without a field', () => {
    expectRefusal(
      () => storedDefinition(record([])),
      CorruptRowError,
      "table 'assays', column 'config' of row (id=7): Invalid input: expected object, received array; the database was changed outside lastmile or is corrupt",
    )
  })

  it('reads back a baseline stored as a range of the log', () => {
    const baseline = { start: '2024-05-01T00:00:00Z', end: MAY_1 + 3_600_000 }
    expect(storedDefinition(record({ ...stored, baseline })).baseline).toEqual(baseline)
  })

  it("gives a stored window's grid in ms: the interval is the width unless given", () => {
    expect(windowOf(record(stored))).toEqual({ width: 3_600_000, interval: 3_600_000, start: MAY_1 })
    expect(windowOf(record({ ...stored, window: { width: 90, interval: '15m', start: 250 } }))).toEqual({
      width: 90_000,
      interval: 900_000,
      start: 250,
    })
  })
})

describe('the narrowest window', () => {
  it('takes a width and an interval of exactly the minimum', () => {
    expect(() => checkWindow({ width: 1000, interval: 1000 }, limits)).not.toThrow()
    expect(() => checkWindow({ width: 86_400_000, interval: 1000 }, limits)).not.toThrow()
  })

  it('refuses a width below the minimum, naming it, the minimum and the setting', () => {
    const f = () => checkWindow({ width: 999.5, interval: 60_000 }, limits)
    expectRefusal(
      f,
      InvalidConfigError,
      'window width 999.5 ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
    expect(details(f)).toEqual({ width: 999.5, minimum: 1000 })
  })

  it('refuses an interval below the minimum when the width is fine', () => {
    const f = () => checkWindow({ width: 3_600_000, interval: 999 }, limits)
    expectRefusal(
      f,
      InvalidConfigError,
      'window interval 999 ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
    expect(details(f)).toEqual({ interval: 999, minimum: 1000 })
  })

  it('names the width first when both are too narrow, and refuses a width that is not a number', () => {
    expect(refusal(() => checkWindow({ width: 5, interval: 3 }, limits)).message).toBe(
      'window width 5 ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
    expect(refusal(() => checkWindow({ width: Number.NaN, interval: 1000 }, limits)).message).toBe(
      'window width NaN ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
  })

  it('writes durations with 12 significant digits', () => {
    // 1e-10 s is 1e-7 ms; 0.1 + 0.2 ms is 0.30000000000000004 ms.
    expect(refusal(() => checkWindow({ width: 1e-7, interval: 1000 }, limits)).message).toBe(
      'window width 1e-7 ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
    const low = { ...limits, minWindowMs: 0.31 }
    expect(refusal(() => checkWindow({ width: 0.1 + 0.2, interval: 1 }, low)).message).toBe(
      'window width 0.3 ms is below the minimum of 0.31 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
  })
})

describe('windows in a range', () => {
  const hour = { width: 1000, interval: 1000 }

  it('counts the windows that fit from the start of the range, a window ending at its end included', () => {
    expect(windowsIn(5000, 8000, hour)).toBe(3) // [5,6) [6,7) [7,8) s
    expect(windowsIn(5000, 7999, hour)).toBe(2)
    expect(windowsIn(5000, 6000, hour)).toBe(1)
    expect(windowsIn(0, 6000, { width: 2000, interval: 1000 })).toBe(5) // starts 0 … 4 s
    expect(windowsIn(0, 6000, { width: 1000, interval: 2500 })).toBe(3) // starts 0, 2.5, 5 s
  })

  it('counts none in a range shorter than one window, however small the interval', () => {
    expect(windowsIn(5000, 5999, hour)).toBe(0)
    expect(windowsIn(5000, 6000, { width: 2000, interval: 500 })).toBe(0)
    expect(windowsIn(5000, 5000, { width: 1000, interval: 250 })).toBe(0)
  })
})

describe('windows per run', () => {
  const w = { width: 2000, interval: 1000 }

  it('takes a run of exactly the limit', () => {
    expect(() => checkRunWindows(5, w, limits)).not.toThrow()
    expect(() => checkRunWindows(0, w, limits)).not.toThrow()
  })

  it('refuses one window more, naming the count, the grid and the setting', () => {
    const f = () => checkRunWindows(6, w, limits)
    expectRefusal(
      f,
      InvalidConfigError,
      'this range holds 6 windows of 2000 ms every 1000 ms; one run scores at most 5 (LASTMILE_ASSAY_MAX_RUN_WINDOWS): run shorter ranges',
    )
    expect(details(f)).toEqual({ windows: 6, limit: 5 })
  })
})

describe('values per request', () => {
  const n = (count: number) => Array.from({ length: count }, (_, i) => i)

  it('takes exactly the limit over all parts', () => {
    const body = { baseline: { values: n(6) }, window: { values: n(4) } }
    expect(() => checkRequestValues('the preview', body, ['baseline', 'window'], limits)).not.toThrow()
  })

  it('refuses one more, counting each part', () => {
    const body = { baseline: { values: n(6) }, window: { values: n(5) } }
    const f = () => checkRequestValues('the preview', body, ['baseline', 'window'], limits)
    expectRefusal(
      f,
      InvalidConfigError,
      'the preview carries 11 values (baseline 6 + window 5); the limit is 10 (LASTMILE_ASSAY_MAX_REQUEST_VALUES)',
    )
    expect(details(f)).toEqual({ values: 11, limit: 10 })
  })

  it('counts a missing part, or one without an array of values, as none', () => {
    const f = () =>
      checkRequestValues('the preview', { baseline: null, window: { values: n(11) } }, ['baseline', 'window'], limits)
    expect(refusal(f).message).toBe(
      'the preview carries 11 values (baseline 0 + window 11); the limit is 10 (LASTMILE_ASSAY_MAX_REQUEST_VALUES)',
    )
    const text = { baseline: { values: 'x'.repeat(50) }, window: {} }
    expect(() => checkRequestValues('the preview', text, ['baseline', 'window'], limits)).not.toThrow()
    expect(() => checkRequestValues('the preview', {}, ['baseline', 'window'], limits)).not.toThrow()
  })

  it('leaves a body that is no object to the schema', () => {
    for (const body of [null, undefined, 'values', 12]) {
      expect(() => checkRequestValues('the assay definition', body, ['baseline'], limits)).not.toThrow()
    }
  })
})

describe('webhooks per assay', () => {
  it('takes exactly the limit and refuses one more', () => {
    expect(() => checkWebhooks([], limits)).not.toThrow()
    expect(() => checkWebhooks(['http://a.test/', 'http://b.test/'], limits)).not.toThrow()
    const f = () => checkWebhooks(['http://a.test/', 'http://b.test/', 'http://c.test/'], limits)
    expectRefusal(f, InvalidConfigError, 'the assay has 3 webhooks; at most 2 (LASTMILE_ASSAY_MAX_WEBHOOKS)')
    expect(details(f)).toEqual({ webhooks: 3, limit: 2 })
  })
})

describe('thresholds', () => {
  it('passes on the thresholds given and defaults the alert threshold to 0.25', () => {
    expect(thresholdsOf({})).toStrictEqual({ alert_threshold: 0.25 })
    expect(thresholdsOf({ warning_threshold: 0.1 })).toStrictEqual({ warning_threshold: 0.1, alert_threshold: 0.25 })
    expect(thresholdsOf({ alert_threshold: 0.5 })).toStrictEqual({ alert_threshold: 0.5 })
    expect(thresholdsOf({ warning_threshold: 0.2, alert_threshold: 0.4 })).toStrictEqual({
      warning_threshold: 0.2,
      alert_threshold: 0.4,
    })
  })

  it('gives no warning threshold at all, not an undefined one, when none is set', () => {
    const t = thresholdsOf({ warning_threshold: undefined, alert_threshold: 0.3 })
    expect(Object.keys(t)).toEqual(['alert_threshold'])
  })
})

describe('schema refusals', () => {
  it("lists every issue with its path, the body's own as 'body'", () => {
    const e = new z.ZodError([
      { code: 'custom', path: ['window', 'width'], message: 'too narrow', input: 0 },
      { code: 'custom', path: [], message: 'not an object', input: 0 },
      { code: 'custom', path: ['webhooks', 1], message: 'not a URL', input: 0 },
    ])
    const r = invalid('assay', e)
    expect(r).toBeInstanceOf(InvalidConfigError)
    expect(r.message).toBe('assay: window.width: too narrow; body: not an object; webhooks.1: not a URL')
    expect(invalid('preview', new z.ZodError([{ code: 'custom', path: [], message: 'empty', input: 0 }])).message).toBe(
      'preview: body: empty',
    )
  })
})
