/**
 * lastmile's pandas-records and Arrow route as Wallaroo's SDK calls it and reads it. The SDK
 * (PyPI `wallaroo`, not installable here) is rebuilt byte for byte from its `wallaroo/deployment.py`
 * (the httpx version): `Deployment._init_infer_params` (the dataset query), `_infer_with_pandas`
 * (`Content-Type: application/json; format=pandas-records`, `df.to_json(orient="records")`,
 * `pd.DataFrame.from_records`, `time` through `pd.to_datetime(unit="ms")`, `check_failures` through
 * `.apply(len)`, `_hack_pandas_dataframe_order`) and `_infer_with_arrow` (an Arrow IPC *file* both
 * ways, `format: arrow`, `Accept` set; the answer opened with `pa.ipc.open_file` and cleaned by
 * `Client._cleanup_arrow_data_for_display`, which converts `time` and takes `len` of each
 * `check_failures`). The engine's answers to compare with are Wallaroo_Tutorials' (cited below).
 */
import { Type, tableFromArrays, tableFromIPC, tableToIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { testConfig } from '../helpers/server.js'

/** `dense_1 = x·W + b`: x float32 [N,4] → [N,1], like the tutorials' ccfraud model's one-unit output. */
const W = [0.5, -1, 2, 0.25]
const B = 0.125
function dense(): Uint8Array {
  const g = new GraphBuilder('ccfraud')
  const x = g.input('tensor', 'float32', ['N', 4])
  const y = g.node('Add', [
    g.node('MatMul', [x, g.constant('w', 'float32', [4, 1], W)]),
    g.constant('b', 'float32', [1], [B]),
  ])
  g.output(y, 'float32', ['N', 1], 'dense_1')
  return g.toModel()
}
/** The model's answer, computed here in float32 as onnxruntime does (products and sums rounded). */
const expected = (x: number[]) => {
  let acc = 0
  x.forEach((v, j) => {
    acc = Math.fround(acc + Math.fround(Math.fround(v) * Math.fround(W[j] as number)))
  })
  return Math.fround(acc + B)
}

// deployment.py constants.
const PANDAS_RECORDS_HEADER = 'application/json; format=pandas-records'
const ARROW_HEADER = 'application/vnd.apache.arrow.file'
/** What httpx adds to every request (`httpx._client.Client` default headers). */
const HTTPX = { accept: '*/*', 'accept-encoding': 'gzip, deflate', 'user-agent': 'python-httpx/0.27.0' }
/**
 * `_init_infer_params()` with no arguments, as httpx encodes `{"dataset[]": ["*"], "dataset.exclude[]":
 * ["metadata"], "dataset.separator": "."}` (urlencode: brackets and `*` percent-encoded).
 */
const SDK_QUERY = 'dataset%5B%5D=%2A&dataset.exclude%5B%5D=metadata&dataset.separator=.'

/** Rows as `df.to_json(orient="records")` writes them (10 significant digits, pandas' default). */
const ROWS = [
  [1.0678324729, 0.2177810266, -1.7115145262, 0.6822190587],
  [0.25, 0.5, 0.75, 1],
  [-3.5, 2, 0.125, -0.0625],
]
const TO_JSON = `[${ROWS.map((r) => `{"tensor":[${r.join(',')}]}`).join(',')}]`

/** `_hack_pandas_dataframe_order`: time, in.*, out.*, then the rest, by the dotted parts after the first. */
function sdkOrder(columns: string[]): string[] {
  const order: Record<string, number> = { time: 0, in: 1, out: 2 }
  const key = (name: string) => {
    const [first = '', ...rest] = name.split('.')
    return [order[first] ?? 3, ...rest] as Array<number | string>
  }
  return [...columns].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)]
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      if (ka[i] === kb[i]) continue
      if (ka[i] === undefined) return -1 // Python: a shorter list sorts first
      if (kb[i] === undefined) return 1
      return (ka[i] as number | string) < (kb[i] as number | string) ? -1 : 1
    }
    return 0
  })
}

/** `_infer_with_pandas` after the request: the frame's columns and the two conversions it makes. */
function readAsSdk(data: unknown): { columns: string[]; rows: Array<Record<string, unknown>> } {
  if (!Array.isArray(data)) throw new Error('DataFrame.from_records needs a list of records')
  const columns = [...new Set(data.flatMap((r) => Object.keys(r as object)))]
  const rows = (data as Array<Record<string, unknown>>).map((r) => {
    const row: Record<string, unknown> = { ...r }
    if ('time' in r) {
      if (!Number.isInteger(r.time)) throw new TypeError('pd.to_datetime(unit="ms") needs integer ms')
      row.time = new Date(r.time as number)
    }
    if ('check_failures' in r) {
      if (!Array.isArray(r.check_failures)) throw new TypeError("object of type 'int' has no len()")
      row.check_failures = r.check_failures.length
    }
    return row
  })
  return { columns: sdkOrder(columns), rows }
}

describe("Wallaroo's SDK against the pandas-records and Arrow route", () => {
  let server: RunningServer
  let lm: LastmileClient
  let sha: string
  let url: string
  beforeAll(async () => {
    server = await startServer(testConfig())
    lm = new LastmileClient({ url: server.url })
    sha = (await lm.uploadModel('default', 'ccfraud', dense())).sha256
    // A validation that fails where dense_1 ≥ 1 (row 1), so check_failures differs between rows.
    await lm.putPipeline('default', 'ccfraud', [{ model: 'ccfraud' }, { validations: { low: 'out.dense_1[0] < 1' } }])
    await lm.deploy('default', 'ccfraud')
    url = `${server.url}/v1/workspaces/default/pipelines/ccfraud/infer`
  })
  afterAll(() => server?.close())

  it('answers Deployment.infer(df) with the columns and values the SDK shows (Wallaroo_Tutorials wallaroo-model-endpoints)', async () => {
    const t0 = Date.now()
    const res = await fetch(`${url}?${SDK_QUERY}`, {
      method: 'POST',
      headers: { ...HTTPX, 'content-type': PANDAS_RECORDS_HEADER },
      body: TO_JSON,
    })
    expect(res.status).toBe(200)
    const df = readAsSdk(await res.json())
    // The tutorial's `pipeline.infer(df)`: time | in.tensor | out.dense_1 | check_failures.
    expect(df.columns).toEqual(['time', 'in.tensor', 'out.dense_1', 'check_failures'])
    expect(df.rows.map((r) => r.check_failures)).toEqual([0, 1, 0])
    expect(df.rows.map((r) => r['out.dense_1'])).toEqual(ROWS.map((x) => [expected(x)])) // one-element lists
    expect(df.rows.map((r) => r['in.tensor'])).toEqual(ROWS.map((x) => x.map(Math.fround)))
    for (const r of df.rows) expect((r.time as Date).getTime()).toBeGreaterThanOrEqual(t0)
  })

  it('answers dataset=["time", "out", "metadata"] (no exclude key then) with the metadata the engine writes', async () => {
    // _init_infer_params(dataset=[...]) with "metadata" in it: exclude is [], so httpx sends no exclude key.
    const res = await fetch(`${url}?dataset%5B%5D=time&dataset%5B%5D=out&dataset%5B%5D=metadata&dataset.separator=.`, {
      method: 'POST',
      headers: { ...HTTPX, 'content-type': PANDAS_RECORDS_HEADER },
      body: TO_JSON,
    })
    expect(res.status).toBe(200)
    const df = readAsSdk(await res.json())
    expect(df.columns).toEqual([
      'time',
      'out.dense_1',
      'metadata.elapsed',
      'metadata.last_model',
      'metadata.model',
      'metadata.pipeline_version',
    ])
    const row = df.rows[2] as Record<string, unknown>
    // As the engine writes it: a JSON string holding model_name and model_sha (the upload's sha256).
    expect(JSON.parse(row['metadata.last_model'] as string)).toEqual({ model_name: 'ccfraud', model_sha: sha })
    expect(row['metadata.pipeline_version']).toBe('1')
    expect(row['metadata.model']).toBe('ccfraud:1')
    const elapsed = row['metadata.elapsed'] as number[]
    expect(elapsed).toHaveLength(2)
    expect(elapsed.every((ns) => Number.isInteger(ns) && ns >= 0)).toBe(true)
  })

  it("answers curl without the dataset query nested, as the tutorial's engine record", async () => {
    // wallaroo-model-endpoints-setup-reference.md: curl with Content-Type and Accept pandas-records →
    // [{"time":…,"in":{"tensor":[…]},"out":{"dense_1":[0.0014974177]},"check_failures":[],"metadata":{"last_model":"{…}"}}]
    const res = await fetch(url, {
      method: 'POST',
      headers: { accept: PANDAS_RECORDS_HEADER, 'content-type': PANDAS_RECORDS_HEADER, 'user-agent': 'curl/7.88.1' },
      body: TO_JSON,
    })
    expect(res.status).toBe(200)
    const [first] = (await res.json()) as Array<Record<string, unknown>>
    expect(Object.keys(first ?? {})).toEqual(['time', 'in', 'out', 'check_failures', 'metadata'])
    expect(first).toMatchObject({
      in: { tensor: (ROWS[0] as number[]).map(Math.fround) },
      out: { dense_1: [expected(ROWS[0] as number[])] },
      check_failures: [],
      metadata: { last_model: JSON.stringify({ model_name: 'ccfraud', model_sha: sha }) },
    })
  })

  it("answers the SDK's edge helper (async_infer with a list of records: httpx json=, Content-Type and Accept application/json)", async () => {
    // The SDK's "Basic routines for integrating Wallaroo w/ an edge inference endpoint": connect(url)
    // takes any URL; _async_infer_with_json posts json=tensor with JSON_HEADERS and get_dataset_params().
    const records = ROWS.map((tensor) => ({ tensor }))
    const res = await fetch(`${url}?${SDK_QUERY}`, {
      method: 'POST',
      headers: { ...HTTPX, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(records), // httpx's json= writes compact JSON
    })
    expect(res.status).toBe(200)
    const data = (await res.json()) as Array<Record<string, unknown>>
    expect(data.map((r) => Object.keys(r))).toEqual(
      ROWS.map(() => ['time', 'in.tensor', 'out.dense_1', 'check_failures']),
    )
    expect(data.map((r) => r['out.dense_1'])).toEqual(ROWS.map((x) => [expected(x)]))
  })

  it('answers Deployment.infer(table) with an Arrow IPC file that open_file and _cleanup_arrow_data_for_display read', async () => {
    const table = tableFromArrays({ tensor: ROWS.map((r) => Float32Array.from(r)) })
    const res = await fetch(`${url}?${SDK_QUERY}`, {
      method: 'POST',
      // _infer_with_arrow's headers, on top of httpx's.
      headers: { ...HTTPX, 'content-type': ARROW_HEADER, format: 'arrow', accept: ARROW_HEADER },
      body: tableToIPC(table, { format: 'file' }) as Uint8Array, // pa.ipc.new_file writes a file
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(ARROW_HEADER)
    const bytes = new Uint8Array(await res.arrayBuffer())
    // pa.ipc.open_file reads the footer: the file format's magic opens and closes the bytes.
    const text = (a: Uint8Array) => new TextDecoder().decode(a)
    expect([text(bytes.subarray(0, 6)), text(bytes.subarray(bytes.length - 6))]).toEqual(['ARROW1', 'ARROW1'])
    const answer = tableFromIPC(bytes)
    expect(answer.schema.fields.map((f) => f.name)).toEqual(['time', 'in.tensor', 'out.dense_1', 'check_failures'])
    const type = (name: string) => answer.schema.fields.find((f) => f.name === name)?.type as { typeId: number }
    // _cleanup_arrow_data_for_display: pd.to_datetime(time, unit="ms") needs numbers (the engine's i64),
    // and check_failures.to_pandas().apply(len) needs a list per row.
    expect(type('time')).toMatchObject({ typeId: Type.Int, bitWidth: 64 })
    expect(type('check_failures').typeId).toBe(Type.List)
    const rows = answer.toArray()
    expect(rows.map((r) => (r.check_failures as unknown[]).length)).toEqual([0, 1, 0])
    expect(rows.map((r) => Array.from(r['out.dense_1'] as Float32Array))).toEqual(ROWS.map((x) => [expected(x)]))
  })
})
