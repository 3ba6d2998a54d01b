/**
 * Fuzzing batch job files through a real HTTP server: CSV, JSONL and Parquet files that are valid,
 * built with random structure (CSV quoting and widths, JSON values, every Parquet footer and page
 * claim), or byte mutations of valid seeds. Each upload answers 202 or a 4xx within the case
 * bound; every accepted job ends succeeded (its result served as Parquet and CSV), or failed with
 * a reason; and the server still answers inference correctly afterwards.
 */
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import fc from 'fast-check'
import * as pw from 'parquet-wasm/esm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { doubler } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { type FuzzServer, fuzzServer } from './inference-server.js'
import { mutated } from './mutate.js'
import { type Claims, craftParquet } from './parquet-craft.js'

const text = (s: string) => new TextEncoder().encode(s)

const CSV_SEEDS = [
  text('a,b\n1,2\n3.5,-4\n'),
  text('\uFEFFa,b,note\r\n1,2,"x, ""quoted"""\r\n,3,"two\r\nlines"\r\n5,6,\r\n'),
  text(`a,b\n${Array.from({ length: 300 }, (_, i) => `${i},${-i / 3}`).join('\n')}\n`),
]
const JSONL_SEEDS = [
  text('{"x":[1,2]}\n{"x":[3,4.5]}\n'),
  text('\uFEFF{"x":[0.5,-1],"id":"a"}\r\n\r\n{"x":[2,3],"id":"b"}\r\n{"x":null}\n'),
]

/** A Parquet file written by parquet-wasm: columns a, b (float64) in row groups of `groupRows`. */
function parquetSeed(rows: number, groupRows: number, compression: pw.Compression): Uint8Array {
  const table = tableFromArrays({
    a: Float64Array.from({ length: rows }, (_, i) => i / 2),
    b: Float64Array.from({ length: rows }, (_, i) => -i),
    label: Array.from({ length: rows }, (_, i) => (i % 3 ? `r${i}` : null)),
  })
  const props = new pw.WriterPropertiesBuilder().setCompression(compression).setMaxRowGroupSize(groupRows).build()
  return pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(table, { format: 'stream' }) as Uint8Array), props)
}

/** CSV rows of random fields: numbers, empty cells, quoting with commas, quotes and line breaks. */
const csvFiles = fc
  .tuple(
    fc.integer({ min: 1, max: 4 }),
    fc.array(
      fc.array(
        fc.oneof(
          fc.double({ noNaN: true }).map(String),
          fc.constantFrom('', ' ', '"', '""', 'a,b', '1e999', '-0', '\r', 'x\ny'),
          fc.string({ maxLength: 8 }).map((s) => `"${s.replaceAll('"', '""')}"`),
        ),
        { maxLength: 5 },
      ),
      { maxLength: 20 },
    ),
  )
  .map(([width, rows]) =>
    text(`${['a', 'b', 'c', 'd'].slice(0, width).join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`),
  )

/** JSON lines of random values: objects with an `x` of any shape, and anything else. */
const jsonlFiles = fc
  .array(
    fc.oneof(
      fc.record({ x: fc.oneof(fc.array(fc.double(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) }),
      fc.jsonValue({ maxDepth: 3 }),
    ),
    { maxLength: 20 },
  )
  .map((lines) => text(lines.map((l) => JSON.stringify(l) ?? 'undefined').join('\n')))

/** Any claim of a crafted Parquet file, from the plausible to the hostile. */
const claim = fc.oneof(
  fc.integer({ min: -3, max: 10 }),
  fc.constantFrom(-1, 0, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, 1e9, 256 * 2 ** 20 + 1),
)
/** No claim overridden, or one or two of them (a file full of lies is refused at its first). */
const claims: fc.Arbitrary<Claims> = fc.oneof(
  fc.constant({}),
  fc
    .array(
      fc.oneof(
        claim.map((v): Claims => ({ fileRows: v })),
        ...(
          ['groupRows', 'pageUncompressed', 'pageCompressed', 'pageValues', 'chunkCompressed', 'offsetShift'] as const
        ).map((key) => fc.tuple(fc.nat(1), claim).map(([g, v]): Claims => ({ [key]: g ? [undefined, v] : [v] }))),
      ),
      { minLength: 1, maxLength: 2 },
    )
    .map((parts) => Object.assign({}, ...parts) as Claims),
)
const craftedFiles = fc
  .tuple(
    fc.array(fc.array(fc.double(), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 2 }),
    claims,
    fc.constantFrom('none' as const, 'snappy' as const),
  )
  .map(([groups, c, codec]) => craftParquet(groups, c, codec))

/** `seed` with 1 to 4 bytes of its pages overwritten (its magic and footer intact: the decoder gets to read them). */
function pagesMutated(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  const dataEnd = seed.length - 8 - new DataView(seed.buffer, seed.byteOffset).getUint32(seed.length - 8, true)
  return fc
    .array(fc.tuple(fc.integer({ min: 4, max: dataEnd - 1 }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    })
    .map((writes) => {
      const out = seed.slice()
      for (const [at, value] of writes) out[at] = value
      return out
    })
}

interface Job {
  status: string
  error: string | null
}

describe('fuzz: job files through the HTTP server', () => {
  let s: FuzzServer
  const accepted: string[] = []
  beforeAll(async () => {
    s = await fuzzServer({ jobs: { chunkRows: 64 } })
    const lm = new LastmileClient({ url: s.url })
    await lm.uploadModel('default', 'single', doubler(1)) // crafted Parquet files have one column, x
    await lm.putPipeline('default', 'single', [{ model: 'single' }])
    await lm.deploy('default', 'single', { engine: 'cpu' })
  })
  afterAll(() => s?.close())

  /** Upload a job file: 202 or a 4xx, in time; an accepted job's id is kept to check how it ends. */
  async function upload(pipeline: string, query: string, bytes: Uint8Array): Promise<void> {
    const res = await fetch(`${s.url}/v1/workspaces/default/pipelines/${pipeline}/jobs?${query}&max_error_share=1`, {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
      signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
    })
    const body = (await res.json()) as { id?: string; error?: { message: string } }
    expect(
      res.status === 202 || (res.status >= 400 && res.status < 500),
      `${res.status}: ${JSON.stringify(body)}`,
    ).toBe(true)
    if (res.status === 202) accepted.push(body.id as string)
    else expect(body.error?.message).toBeTruthy()
  }

  /** Every accepted job ends succeeded, or failed with a reason; then inference is still right. */
  async function settled(): Promise<void> {
    for (const id of accepted.splice(0)) {
      const job = await vi.waitFor(
        async () => {
          const j = (await (await fetch(`${s.url}/v1/jobs/${id}`)).json()) as Job
          if (j.status === 'queued' || j.status === 'running') throw new Error(`${id} is still ${j.status}`)
          return j
        },
        { timeout: 60_000, interval: 25 },
      )
      expect(['succeeded', 'failed'], `${id}: ${JSON.stringify(job)}`).toContain(job.status)
      if (job.status === 'failed') expect(job.error, id).toMatch(/\w/)
      else
        for (const format of ['parquet', 'csv']) {
          // The result writers take what the fuzzed file held, through lastmile's own chunk files.
          const res = await fetch(`${s.url}/v1/jobs/${id}/result?format=${format}`, {
            signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
          })
          await res.arrayBuffer()
          expect(res.status, `${id} as ${format}`).toBe(200)
        }
    }
    await s.expectCorrect()
  }

  it('takes CSV files, random and mutated', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(csvFiles, mutated(CSV_SEEDS)), (bytes) =>
        upload('double', 'format=csv&features=a,b', bytes),
      ),
      fuzzParams(25),
    )
    await settled()
  })

  it('takes JSONL files, random and mutated', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonlFiles, mutated(JSONL_SEEDS)), (bytes) => upload('double', 'format=jsonl', bytes)),
      fuzzParams(25),
    )
    await settled()
  })

  it('takes Parquet files with any claim, and mutations of files parquet-wasm wrote', async () => {
    const seeds = [parquetSeed(3000, 1000, pw.Compression.ZSTD), parquetSeed(500, 500, pw.Compression.SNAPPY)]
    const crafted = [craftParquet([[1, 2], [3]]), craftParquet([[0.5, -1, 2]], {}, 'snappy')]
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.oneof(mutated(seeds), ...seeds.map(pagesMutated)).map((b) => ['double', 'features=a,b', b] as const),
          fc.oneof(craftedFiles, mutated(crafted)).map((b) => ['single', 'features=x', b] as const),
        ),
        ([pipeline, features, bytes]) => upload(pipeline, `format=parquet&${features}`, bytes),
      ),
      fuzzParams(30),
    )
    await settled()
  })
})
