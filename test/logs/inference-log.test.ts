/**
 * The inference log: rows per inference row, time-range and column queries, rolling into Arrow
 * segments, recovery from a roll interrupted by a crash, a torn last frame, legacy JSON-lines
 * open segments, columns that change type, retention, sampling,
 * and nothing lost on clean shutdown.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { silentLogger } from '../../src/logger.js'
import { encodeFrames } from '../../src/logs/frames.js'
import { InferenceLog, type LogConfig } from '../../src/logs/inference-log.js'
import { type LogFilter, readLogRows } from '../../src/logs/log-query.js'
import { INLINE_LOG_WORK } from '../../src/logs/log-work.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { nextSegmentId, OPEN, SEGMENT, segmentOwner } from '../../src/logs/segment-names.js'
import { mulberry32 } from '../../src/random.js'
import { freshSeed } from '../helpers/compare.js'
import { TEST_LOG_CONFIG, tempDir } from '../helpers/server.js'

/** Log times near now: retention would delete rows from 1970. */
const T = Date.now() - 3_600_000
const cfg = (over: Partial<LogConfig> = {}): LogConfig => ({ ...TEST_LOG_CONFIG, ...over })

function record(time: number, xs: number[][], pipeline = 'p'): InferenceRecord {
  const rows = xs.length
  return {
    time,
    workspace: 'default',
    pipeline,
    pipelineVersion: 2,
    model: 'm:1',
    rows,
    inputs: { x: tensor('float32', [rows, 2], xs.flat()) },
    outputs: {
      y: tensor(
        'float32',
        [rows],
        xs.map((r) => (r[0] as number) * 10),
      ),
      label: { dtype: 'string', dims: [rows], data: xs.map((_, i) => `c${i}`) },
    },
    rowModels: new Array(rows).fill('m:1'),
    checkFailures: Int32Array.from({ length: rows }, (_, i) => i % 2),
    shadow: {},
    latencyMs: 3.5,
  }
}

describe('inference log', () => {
  it('answers rows per inference row, by time range and columns, across rolled and open segments', async () => {
    const dir = tempDir()
    const log = await InferenceLog.open(dir, cfg({ rollBytes: 1 }), silentLogger) // roll on every flush
    log.append(
      record(T + 1000, [
        [1, 2],
        [3, 4],
      ]),
    )
    await log.flush() // rolled into seg-1-1000-1000.arrow
    log.append(record(T + 2000, [[5, 6]]))
    await log.flush()
    log.append(record(T + 3000, [[7, 8]]))
    const files = readdirSync(join(dir, 'logs', 'default', 'p'))
    expect(files.filter((f) => f.endsWith('.arrow')).sort()).toEqual([
      `seg-1-${T + 1000}-${T + 1000}.arrow`,
      `seg-2-${T + 2000}-${T + 2000}.arrow`,
    ])
    const rows = await log.query('default', 'p')
    expect(rows.map((r) => r.time - T)).toEqual([1000, 1000, 2000, 3000])
    expect(rows[1]).toMatchObject({
      time: T + 1000,
      pipeline_version: 2,
      model: 'm:1',
      check_failures: 1,
      latency_ms: 3.5,
      'in.x': [3, 4],
      'out.y': 30,
      'out.label': 'c1',
    })
    expect((await log.query('default', 'p', { start: T + 1500, end: T + 3000 })).map((r) => r['in.x'])).toEqual([
      [5, 6],
    ])
    expect(await log.query('default', 'p', { limit: 1, columns: ['out.y'] })).toEqual([{ time: T + 1000, 'out.y': 10 }])
    expect(Array.from(await log.values('default', 'p', 'in.x[1]'))).toEqual([2, 4, 6, 8])
    expect(Array.from(await log.values('default', 'p', 'out.y', T + 2000))).toEqual([50, 70])
    await log.close()
  })

  it('takes only the rows a filter names (a version, a model, failed checks), and pages on past them', async () => {
    const dir = tempDir()
    const log = await InferenceLog.open(dir, cfg(), silentLogger)
    const xs = (n: number, from: number) => Array.from({ length: n }, (_, i) => [from + i, 0])
    log.append({ ...record(T + 1000, xs(4, 0)), pipelineVersion: 1 }) // checks fail on rows 1 and 3
    log.append({ ...record(T + 2000, xs(3, 10)), rowModels: ['a:1', 'b:1', 'a:1'] })
    log.append(record(T + 3000, xs(2, 20)))
    const x0 = (rows: { 'in.x'?: unknown }[]) => rows.map((r) => (r['in.x'] as number[])[0])
    const page = async (where: LogFilter, limit = 100) => {
      const p = await log.page('default', 'p', { where, limit, format: 'json' })
      return { rows: JSON.parse(new TextDecoder().decode(p.body)), next: p.next }
    }
    expect(x0((await page({ pipelineVersion: 1 })).rows)).toEqual([0, 1, 2, 3])
    expect(x0((await page({ pipelineVersion: 2 })).rows)).toEqual([10, 11, 12, 20, 21])
    expect(x0((await page({ model: 'a:1' })).rows)).toEqual([10, 12])
    expect(x0((await page({ model: 'm:1', failedChecks: true })).rows)).toEqual([1, 3, 21])
    expect(x0((await page({ pipelineVersion: 2, model: 'b:1', failedChecks: true })).rows)).toEqual([11])
    expect((await page({ model: 'none:1' })).rows).toEqual([])
    // A limit stops at the next row of the range, taken or not: the next page starts there.
    const first = await page({ failedChecks: true }, 2)
    expect(x0(first.rows)).toEqual([1, 3])
    expect(first.next).toEqual({ segment: 1, row: 4 })
    const rest = await log.page('default', 'p', { where: { failedChecks: true }, from: first.next, format: 'json' })
    expect(x0(JSON.parse(new TextDecoder().decode(rest.body)))).toEqual([11, 21])
    // Rows passed over are bounded: the read stops after that many and says where to go on.
    await log.flush()
    const read = await readLogRows({
      segments: [{ id: 1, path: join(dir, 'logs', 'default', 'p', 'open-1.arrows'), open: true }],
      start: Number.NEGATIVE_INFINITY,
      end: Number.POSITIVE_INFINITY,
      limit: 100,
      where: { model: 'b:1' },
      scanRows: 3,
    })
    expect(read.rows).toEqual([])
    expect(read.next).toEqual({ segment: 1, row: 3 })
    await log.close()
  })

  it('reads assay values column-wise exactly as the rows say, NaN and missing elements included', async () => {
    const log = await InferenceLog.open(tempDir(), cfg({ rollBytes: 1 }), silentLogger)
    const rand = mulberry32(freshSeed())
    const xs = () =>
      Array.from({ length: 1 + Math.floor(rand() * 4) }, () => [rand() < 0.1 ? Number.NaN : rand() * 10, rand()])
    for (let k = 0; k < 6; k++) {
      log.append(record(T + k * 1000, k === 0 || k === 5 ? [[Number.NaN, 0.5], ...xs()] : xs()))
      if (k < 4) await log.flush() // four rolled segments, then two requests in the open file
    }
    const reference = (rows: Array<Record<string, unknown>>, column: string, index: number) =>
      rows.flatMap((r) => {
        const v = r[column]
        if (v === undefined || v === null) return []
        const x = Array.isArray(v) ? v[index] : index === 0 ? v : undefined
        return [typeof x === 'number' ? x : x === null || x === undefined ? Number.NaN : Number(x)]
      })
    for (const [start, end] of [
      [undefined, undefined],
      [T + 1000, T + 5000],
      [T + 999, T + 3001],
    ] as const) {
      const rows = await log.query('default', 'p', { ...(start ? { start } : {}), ...(end ? { end } : {}) })
      for (const [iopath, column, index] of [
        ['in.x[0]', 'in.x', 0],
        ['in.x[1]', 'in.x', 1],
        ['in.x[2]', 'in.x', 2],
        ['out.y', 'out.y', 0],
        ['out.label', 'out.label', 0],
      ] as const) {
        const got = Array.from(await log.values('default', 'p', iopath, start, end))
        expect(got, `${iopath} in [${start}, ${end})`).toEqual(reference(rows, column, index))
      }
    }
    // Logged NaN survives both the open file (JSON null) and a rolled segment (Arrow null).
    expect(Number.isNaN((await log.values('default', 'p', 'in.x[0]', T, T + 1))[0])).toBe(true)
    expect(Number.isNaN((await log.values('default', 'p', 'in.x[0]', T + 5000, T + 5001))[0])).toBe(true)
    expect((await log.values('default', 'p', 'in.x[1]', T, T + 1))[0]).toBe(0.5)
    await log.close()
  })

  it('keeps every answered row across a clean shutdown, and resumes', async () => {
    const dir = tempDir()
    const a = await InferenceLog.open(dir, cfg(), silentLogger)
    for (let i = 0; i < 50; i++) a.append(record(T + 10_000 + i, [[i, i]]))
    await a.close()
    const b = await InferenceLog.open(dir, cfg(), silentLogger)
    b.append(record(T + 20_000, [[99, 99]]))
    const rows = await b.query('default', 'p')
    expect(rows).toHaveLength(51)
    expect(rows[50]?.time).toBe(T + 20_000)
    await b.close()
  })

  it('lets several processes write one folder: ids never collide, each recovers its own, reads see all', async () => {
    // Ids by hand: writer k of a pool owns n·1024 + k.
    expect(nextSegmentId([], { index: 0, count: 2 })).toBe(1024)
    expect(nextSegmentId([], { index: 1, count: 2 })).toBe(1)
    expect(nextSegmentId([1, 3, 5], { index: 0, count: 3 })).toBe(1024)
    expect(nextSegmentId([1, 3, 1025], { index: 1, count: 3 })).toBe(2049)
    expect(nextSegmentId([7], { index: 0, count: 1 })).toBe(8)
    expect([segmentOwner(2050, 3), segmentOwner(2051, 3), segmentOwner(1, 1), segmentOwner(5, 3)]).toEqual([2, 0, 0, 0])
    // Only whole names are segments: a roll's temporary file, or a name inside another, is not.
    const candidates = [
      'seg-4-10-20.arrow',
      'seg-4-10-20.arrow.tmp',
      'xseg-4-10-20.arrow',
      'open-7.arrows',
      'open-7.arrows.tmp',
      'old-open-7.arrows',
    ]
    expect(candidates.map((n) => SEGMENT.test(n) || OPEN.test(n))).toEqual([true, false, false, true, false, false])
    const dir = tempDir()
    const single = await InferenceLog.open(dir, cfg(), silentLogger) // an earlier single-process run left open-1
    single.append(record(T + 100, [[0, 0]]))
    await single.close()
    const open = (index: number, over: Partial<LogConfig> = {}) =>
      InferenceLog.open(dir, cfg(over), silentLogger, INLINE_LOG_WORK, { index, count: 2 })
    const w0 = await open(0)
    const w1 = await open(1, { rollBytes: 1 })
    for (let i = 0; i < 3; i++) {
      w0.append(record(T + 1000 + i, [[i, 1]]))
      w1.append(record(T + 2000 + i, [[i, 2]], 'p'))
    }
    await w0.flush()
    await w1.flush() // rolls its open segment on every flush
    w1.append(record(T + 3000, [[9, 2]]))
    await w1.flush()
    const pdir = join(dir, 'logs', 'default', 'p')
    // The single run's open-1 belongs to writer 1 (1 = 0·1024 + 1), which carries on in it; writer 0
    // starts at 1024; writer 1's next id after 1 is 1025. No id is used twice.
    const names = readdirSync(pdir).sort()
    expect(names).toEqual(
      ['open-1024.arrows', `seg-1-${T + 100}-${T + 2002}.arrow`, `seg-1025-${T + 3000}-${T + 3000}.arrow`].sort(),
    )
    // Either writer reads every writer's flushed rows, in segment id order.
    const times = (rows: { time: number }[]) => rows.map((r) => r.time - T)
    expect(times(await w0.query('default', 'p'))).toEqual([100, 2000, 2001, 2002, 1000, 1001, 1002, 3000])
    expect(times(await w1.query('default', 'p'))).toEqual(times(await w0.query('default', 'p')))
    await w0.close()
    await w1.close()
    // A pool of one again: it owns everything, carries on in the newest open segment (1024), and
    // rolls it into the next id above every id there (1026, not 1025).
    const again = await InferenceLog.open(dir, cfg({ rollBytes: 1 }), silentLogger)
    again.append(record(T + 4000, [[4, 4]]))
    await again.flush()
    again.append(record(T + 5000, [[5, 5]]))
    await again.flush()
    expect(readdirSync(pdir).sort()).toEqual(
      [
        `seg-1-${T + 100}-${T + 2002}.arrow`,
        `seg-1024-${T + 1000}-${T + 4000}.arrow`,
        `seg-1025-${T + 3000}-${T + 3000}.arrow`,
        `seg-1026-${T + 5000}-${T + 5000}.arrow`,
      ].sort(),
    )
    expect(times(await again.query('default', 'p'))).toEqual([
      100, 2000, 2001, 2002, 1000, 1001, 1002, 4000, 3000, 5000,
    ])
    await again.close()
  })

  it('recovers from a roll cut short by a crash and from a torn last frame', async () => {
    const dir = tempDir()
    const a = await InferenceLog.open(dir, cfg(), silentLogger)
    a.append(record(T + 1000, [[1, 1]]))
    await a.close()
    const pdir = join(dir, 'logs', 'default', 'p')
    // A crash mid-append leaves part of a frame: its length says more bytes than follow.
    const torn = (encodeFrames([record(T + 2000, [[2, 2]])])[0] as { bytes: Uint8Array }).bytes
    writeFileSync(join(pdir, 'open-1.arrows'), torn.subarray(0, torn.length - 9), { flag: 'a' })
    const b = await InferenceLog.open(dir, cfg({ rollBytes: 1 }), silentLogger)
    b.append(record(T + 3000, [[3, 3]]))
    await b.flush() // cuts the torn frame, appends, rolls open-1 into seg-1
    expect((await b.query('default', 'p')).map((r) => r.time - T)).toEqual([1000, 3000])
    expect(readdirSync(pdir)).toEqual([`seg-1-${T + 1000}-${T + 3000}.arrow`])
    await b.close()
    // A crash after the segment was renamed in but before the open file was deleted.
    writeFileSync(
      join(pdir, 'open-1.arrows'),
      (encodeFrames([record(T + 1000, [[1, 1]])])[0] as { bytes: Uint8Array }).bytes,
    )
    const c = await InferenceLog.open(dir, cfg(), silentLogger)
    c.append(record(T + 4000, [[4, 4]]))
    expect((await c.query('default', 'p')).map((r) => r.time - T)).toEqual([1000, 3000, 4000]) // no duplicate of 1000
    await c.close()
  })

  it('rolls an open segment left by an older lastmile (JSON lines) into an Arrow segment at start', async () => {
    const dir = tempDir()
    const pdir = join(dir, 'logs', 'default', 'p')
    mkdirSync(pdir, { recursive: true })
    const line = {
      t: T + 500,
      v: 1,
      lat: 2,
      models: ['m:1', 'm:1'],
      checks: [0, 1],
      cols: { 'in.x': { dtype: 'float32', dims: [2, 2], data: [1, 2, 3, 4] } },
    }
    writeFileSync(join(pdir, 'open-4.jsonl'), `${JSON.stringify(line)}\n{"t": 9, "v"`)
    const log = await InferenceLog.open(dir, cfg(), silentLogger)
    log.append(record(T + 600, [[5, 6]]))
    const rows = await log.query('default', 'p')
    expect(rows.map((r) => [r.time - T, r['in.x'], r.check_failures])).toEqual([
      [500, [1, 2], 0],
      [500, [3, 4], 1],
      [600, [5, 6], 0],
    ])
    expect(readdirSync(pdir).sort()).toEqual([`open-5.arrows`, `seg-4-${T + 500}-${T + 500}.arrow`])
    await log.close()
  })

  it('rolls before a column changes type (a new pipeline version), keeping both', async () => {
    const dir = tempDir()
    const log = await InferenceLog.open(dir, cfg(), silentLogger)
    log.append(record(T + 1, [[1, 2]]))
    const wider = record(T + 2, [[3, 4]])
    wider.outputs.y = tensor('float32', [1, 2], [30, 31])
    log.append(wider)
    log.append(record(T + 3, [[5, 6]]))
    const rows = await log.query('default', 'p')
    expect(rows.map((r) => r['out.y'])).toEqual([10, [30, 31], 50])
    expect(readdirSync(join(dir, 'logs', 'default', 'p')).filter((f) => f.startsWith('seg-'))).toHaveLength(2)
    await log.close()
  })

  it('deletes segments past retention, samples, and drops (counted) beyond its buffer', async () => {
    const dir = tempDir()
    const old = Date.now() - 3 * 3600_000
    const a = await InferenceLog.open(dir, cfg({ rollBytes: 1, retentionHours: 1 }), silentLogger)
    a.append(record(old, [[1, 1]]))
    await a.flush()
    a.append(record(Date.now(), [[2, 2]]))
    await a.flush()
    expect((await a.query('default', 'p')).map((r) => r['in.x'])).toEqual([[2, 2]])
    await a.close()
    const none = await InferenceLog.open(tempDir(), cfg({ sampleRate: 0 }), silentLogger)
    none.append(record(T, [[1, 1]]))
    expect(await none.query('default', 'p')).toEqual([])
    const small = await InferenceLog.open(tempDir(), cfg({ maxBufferedRows: 3 }), silentLogger)
    small.append(
      record(T, [
        [1, 1],
        [2, 2],
      ]),
    )
    small.append(
      record(T, [
        [3, 3],
        [4, 4],
      ]),
    )
    expect(small.dropped).toBe(2)
    await small.close()
    // A row's x, y and label weigh 8 + 4 + 8 bytes (a string counts 8): 100 bytes hold 5 rows.
    const light = await InferenceLog.open(tempDir(), cfg({ maxBufferedBytes: 100 }), silentLogger)
    light.append(
      record(T, [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 5],
      ]),
    )
    light.append(
      record(T, [
        [6, 6],
        [7, 7],
        [8, 8],
        [9, 9],
      ]),
    )
    expect(light.dropped).toBe(4)
    await light.flush()
    light.append(
      record(T, [
        [6, 6],
        [7, 7],
        [8, 8],
        [9, 9],
      ]),
    ) // written: the buffer is empty again
    expect((await light.query('default', 'p')).map((r) => r['in.x'])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 6],
      [7, 7],
      [8, 8],
      [9, 9],
    ])
    expect(light.dropped).toBe(4)
    await light.close()
  })
})
