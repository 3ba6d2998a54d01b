/**
 * Batch jobs carry FP16 and 64-bit integer values as the OIP path does, in every format in and out,
 * through the real app: INT64/UINT64 exact (9223372036854775807 came back from JSONL and CSV as
 * -9223372036854776000: read as a double, 2^63, then wrapped into int64), FP16 as values rounded
 * once to the nearest half (inputs were cast straight to 16-bit bit patterns, outputs written as
 * bits: [1, -2] came back [1, 65534], 0.1 as 0); a value outside its dtype's range is a row error
 * naming the row and the column, never wrapped. Expected values are written out by hand.
 */
import { type DataType, int64, list, Type, tableFromArrays, tableFromIPC, tableToIPC, uint64 } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { JobFormatName, JobStatus, LastmileClient } from '../../src/client/client.js'
// Importing the job file module initialises parquet-wasm (pw) for this process, as the server does.
import '../../src/jobs/io/index.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { clientFor, testServer } from '../helpers/server.js'

/** y = x for one input of `dtype` and `shape`. */
function identity(dtype: 'int64' | 'uint64' | 'float16' | 'int32', shape: Array<string | number>): Uint8Array {
  const g = new GraphBuilder(`id_${dtype}`)
  g.output(g.node('Identity', [g.input('x', dtype, shape)]), dtype, shape, 'y')
  return g.toModel()
}

const encoder = new TextEncoder()
const FORMATS: JobFormatName[] = ['csv', 'jsonl', 'arrow', 'parquet']

describe('batch jobs carry FP16 and 64-bit integers exactly', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient

  beforeAll(async () => {
    s = await testServer()
    lm = clientFor(s.app)
    const models: Array<[string, Uint8Array]> = [
      ['i64', identity('int64', ['N', 2])],
      ['u64', identity('uint64', ['N'])],
      ['f16', identity('float16', ['N', 2])],
      ['i32', identity('int32', ['N'])],
    ]
    for (const [name, bytes] of models) {
      await lm.uploadModel('default', name, bytes)
      await lm.putPipeline('default', name, [{ model: name }])
      await lm.deploy('default', name)
    }
  })
  afterAll(() => s.shutdown())

  async function run(
    pipeline: string,
    file: Uint8Array | string,
    format: JobFormatName,
    features?: string[],
  ): Promise<JobStatus> {
    const bytes = typeof file === 'string' ? encoder.encode(file) : file
    // Row errors are what some of these files are for: none may fail the job.
    const job = await lm.createJob('default', pipeline, bytes, {
      format,
      maxErrorShare: 1,
      ...(features ? { features } : {}),
    })
    return vi.waitFor(
      async () => {
        const j = await lm.job(job.id)
        if (j.status === 'queued' || j.status === 'running') throw new Error(`still ${j.status}`)
        return j
      },
      { timeout: 60_000, interval: 50 },
    )
  }
  const result = async (id: string, format: JobFormatName) =>
    new Uint8Array(await (await lm.jobResult(id, format)).arrayBuffer())
  const text = async (id: string, format: 'csv' | 'jsonl') => new TextDecoder().decode(await result(id, format))
  /** An Arrow or Parquet result as a table, 64-bit integers as bigints (read by flechette and parquet-wasm, not lastmile). */
  const table = async (id: string, format: 'arrow' | 'parquet') => {
    const bytes = await result(id, format)
    const ipc = format === 'arrow' ? bytes : pw.readParquet(bytes).intoIPCStream()
    return tableFromIPC(ipc, { useBigInt: true })
  }
  const rowsOf = (t: ReturnType<typeof tableFromIPC>, column: string) =>
    Array.from(t.getChild(column)?.toArray() ?? [], (v) => (ArrayBuffer.isView(v) ? Array.from(v as never) : v))

  /** Every result format of a job whose out.y rows are `want` (the INT64 pairs). */
  async function expectInt64Pairs(id: string, want: Array<[bigint, bigint] | null>) {
    const jsonl = (await text(id, 'jsonl')).trimEnd().split('\n')
    const csv = (await text(id, 'csv')).trimEnd().split('\n')
    want.forEach((pair, r) => {
      const written = pair ? `[${pair.join(',')}]` : 'null'
      expect(jsonl[r]).toContain(`"out.y":${written}`)
      expect(csv[r + 1]?.endsWith(pair ? `"${written}"` : ',')).toBe(true)
    })
    for (const format of ['arrow', 'parquet'] as const) {
      const t = await table(id, format)
      const type = t.schema.fields.find((f) => f.name === 'out.y')?.type as { children: Array<{ type: DataType }> }
      expect(type.children[0]?.type).toMatchObject({ typeId: Type.Int, bitWidth: 64, signed: true })
      expect(rowsOf(t, 'out.y')).toEqual(want)
    }
  }

  it('reads INT64 from JSONL and CSV exactly, writes it back exactly everywhere, refuses 2^63 as a row error', async () => {
    const jsonl = await run(
      'i64',
      '{"x":[9223372036854775807,9007199254740993]}\n{"x":[-9223372036854775808,-1]}\n{"x":[9223372036854775808,1]}\n',
      'jsonl',
    )
    expect(jsonl).toMatchObject({ status: 'succeeded', rows_done: 3, error_count: 1 })
    expect(jsonl.errors).toEqual([
      {
        row: 2,
        message: expect.stringMatching(
          /column 'x' value 0 is 9223372036854775808; expected an integer in \[-9223372036854775808, 9223372036854775807\] \(int64\)/,
        ),
      },
    ])
    await expectInt64Pairs(jsonl.id, [[9223372036854775807n, 9007199254740993n], [-9223372036854775808n, -1n], null])
    // The input column comes back as it was read: exact too.
    expect((await text(jsonl.id, 'jsonl')).split('\n')[0]).toBe(
      '{"x":[9223372036854775807,9007199254740993],"out.y":[9223372036854775807,9007199254740993]}',
    )

    const csv = await run(
      'i64',
      'x\n"[9223372036854775807,9007199254740993]"\n"[-9223372036854775808,-1]"\n"[1,18446744073709551615]"\n',
      'csv',
    )
    expect(csv).toMatchObject({ status: 'succeeded', error_count: 1 })
    expect(csv.errors[0]).toMatchObject({
      row: 2,
      message: expect.stringMatching(/column 'x' value 1 is 18446744073709551615/),
    })
    await expectInt64Pairs(csv.id, [[9223372036854775807n, 9007199254740993n], [-9223372036854775808n, -1n], null])
  })

  it('reads INT64 list columns of Arrow and Parquet files exactly', async () => {
    const rows = [
      [9223372036854775807n, -9223372036854775808n],
      [9007199254740993n, 5n],
    ]
    const arrow = tableToIPC(tableFromArrays({ x: rows }, { types: { x: list(int64()) } }), { format: 'stream' })
    const parquet = pw.writeParquet(pw.Table.fromIPCStream(arrow as Uint8Array))
    for (const [format, file] of [
      ['arrow', arrow],
      ['parquet', parquet],
    ] as const) {
      const job = await run('i64', file as Uint8Array, format)
      expect(job).toMatchObject({ status: 'succeeded', rows_done: 2, error_count: 0 })
      await expectInt64Pairs(job.id, rows as Array<[bigint, bigint]>)
      expect(rowsOf(await table(job.id, 'arrow'), 'x')).toEqual(rows)
    }
  })

  it('reads UINT64 scalars from CSV, JSONL and Arrow exactly; -1 and 2^64 are row errors', async () => {
    const csv = await run('u64', 'x\n18446744073709551615\n9007199254740993\n-1\n18446744073709551616\n0\n', 'csv')
    expect(csv).toMatchObject({ status: 'succeeded', rows_done: 5, error_count: 2 })
    expect(csv.errors.map((e) => e.row)).toEqual([2, 3])
    expect(csv.errors[0]?.message).toMatch(
      /column 'x' is -1; expected an integer in \[0, 18446744073709551615\] \(uint64\)/,
    )
    const out = (await text(csv.id, 'csv')).trimEnd().split('\n')
    expect(out).toEqual([
      'x,out.y',
      '18446744073709551615,18446744073709551615',
      '9007199254740993,9007199254740993',
      '-1,',
      '18446744073709551616,',
      '0,0',
    ])
    const jsonl = await run('u64', '{"x":18446744073709551615}\n{"x":9007199254740993}\n', 'jsonl')
    expect(jsonl).toMatchObject({ status: 'succeeded', error_count: 0 })
    expect(await text(jsonl.id, 'jsonl')).toBe(
      '{"x":18446744073709551615,"out.y":18446744073709551615}\n{"x":9007199254740993,"out.y":9007199254740993}\n',
    )
    const arrow = tableToIPC(tableFromArrays({ x: [18446744073709551615n, 1n] }, { types: { x: uint64() } }), {
      format: 'stream',
    })
    const fromArrow = await run('u64', arrow as Uint8Array, 'arrow')
    expect(fromArrow).toMatchObject({ status: 'succeeded', error_count: 0 })
    for (const format of ['arrow', 'parquet'] as const) {
      expect(rowsOf(await table(fromArrow.id, format), 'out.y')).toEqual([18446744073709551615n, 1n])
    }
  })

  it('rounds FP16 inputs once to the nearest half and writes FP16 outputs as values, in every format', async () => {
    const jsonl = await run('f16', '{"x":[0.1,65504]}\n{"x":[1,-2]}\n{"x":[70000,1]}\n', 'jsonl')
    // 70000 is past the largest half by more than half a step: Infinity, which the pipeline refuses.
    expect(jsonl).toMatchObject({ status: 'succeeded', rows_done: 3, error_count: 1 })
    expect(jsonl.errors[0]).toMatchObject({
      row: 2,
      message: expect.stringMatching(/input 'x' column 0 is Infinity \(a number beyond float16's range/),
    })
    expect((await text(jsonl.id, 'jsonl')).trimEnd().split('\n')).toEqual([
      '{"x":[0.1,65504],"out.y":[0.0999755859375,65504]}',
      '{"x":[1,-2],"out.y":[1,-2]}',
      '{"x":[70000,1],"out.y":null}',
    ])
    expect((await text(jsonl.id, 'csv')).split('\n')[2]).toBe('"[1,-2]","[1,-2]"')
    for (const format of ['arrow', 'parquet'] as const) {
      expect(rowsOf(await table(jsonl.id, format), 'out.y')).toEqual([[0.0999755859375, 65504], [1, -2], null])
    }
    // Features: one CSV column per value (the path that skips per-value checks for float inputs).
    const csv = await run('f16', 'a,b\n0.1,-2\n3,65519\n', 'csv', ['a', 'b'])
    expect(csv).toMatchObject({ status: 'succeeded', error_count: 0 })
    expect((await text(csv.id, 'csv')).trimEnd().split('\n')).toEqual([
      'a,b,out.y',
      '0.1,-2,"[0.0999755859375,-2]"',
      '3,65519,"[3,65504]"',
    ])
  })

  it('refuses values outside an INT32 input as row errors instead of wrapping or cutting them', async () => {
    const csv = await run('i32', 'x\n3000000000\n-7\n2.5\n2147483647\n', 'csv')
    expect(csv).toMatchObject({ status: 'succeeded', rows_done: 4, error_count: 2 })
    expect(csv.errors).toEqual([
      {
        row: 0,
        message: expect.stringMatching(
          /column 'x' is 3000000000; expected an integer in \[-2147483648, 2147483647\] \(int32\)/,
        ),
      },
      { row: 2, message: expect.stringMatching(/column 'x' is 2\.5; expected an integer in/) },
    ])
    expect((await text(csv.id, 'jsonl')).trimEnd().split('\n')).toEqual([
      '{"x":3000000000,"out.y":null}',
      '{"x":-7,"out.y":-7}',
      '{"x":2.5,"out.y":null}',
      '{"x":2147483647,"out.y":2147483647}',
    ])
    for (const format of FORMATS) expect((await result(csv.id, format)).length).toBeGreaterThan(0)
  })
})
