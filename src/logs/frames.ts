/**
 * The open log segment's frames. Each flush appends one frame per group of compatible requests: a
 * little-endian uint32 byte length and the magic "LMF1", then an Arrow IPC stream of the rows flushed, built column-wise
 * straight from the tensors (no JSON on the way in or out). Columns as in rolled segments: `time`
 * (timestamp ms), `pipeline_version`, `model`, `check_failures`, `latency_ms`, `request_id` (the
 * client's request id, null without one) and `request_row` (the row's index in its request, null
 * without an id; segments written before these columns lack them), then one column per
 * tensor (`in.x`, `out.y`, `out_<model>.y`): a scalar per row for [N] tensors, a list per row
 * (row-major) for [N, ...] ones; INT64 and UINT64 as int64 and uint64 (exact), other numbers as
 * float64 (FP16 as each half's value), strings as utf8, booleans as bool (0/1 in lists). A crash
 * mid-append leaves at most one torn frame at the end, which recovery cuts off.
 */
import {
  batchType,
  bool,
  Column,
  columnFromArray,
  type DataType,
  float64,
  int64,
  list,
  type Table,
  TimeUnit,
  Type,
  tableFromColumns,
  tableFromIPC,
  tableToIPC,
  timestamp,
  uint64,
  utf8,
} from '@uwdata/flechette'
import type { AnyTensor } from '../engine/tensor.js'
import { halfToNumber } from '../half.js'
import type { InferenceRecord } from './record.js'

/** Frame header: uint32 length of the IPC stream, uint32 magic "LMF1"; 8 bytes keep the stream 8-aligned. */
const HEAD = 8
const MAGIC = 0x31464d4c

/** Numbers as float64, INT64 as int64, UINT64 as uint64: each kind of number column's element. */
type Element = 'num' | 'i64' | 'u64'
type Kind = Element | 'str' | 'bool' | `${Element}[]` | 'str[]'

function elementOf(t: AnyTensor): Element {
  return t.dtype === 'int64' ? 'i64' : t.dtype === 'uint64' ? 'u64' : 'num'
}

function kindOf(t: AnyTensor): Kind {
  const scalar = t.dims.length <= 1
  if (t.dtype === 'string') return scalar ? 'str' : 'str[]'
  if (t.dtype === 'bool' && scalar) return 'bool'
  return scalar ? elementOf(t) : `${elementOf(t)}[]`
}

/** Each number element's Arrow type and the typed array of its values. */
const ELEMENTS = {
  num: { type: float64, Array: Float64Array },
  i64: { type: int64, Array: BigInt64Array },
  u64: { type: uint64, Array: BigUint64Array },
} as const

/**
 * Copy a tensor's first `count` values into `out` at `at`: 64-bit integers as they are, FP16 as
 * each half's value, other numbers converted to float64 (bool as 0/1).
 */
function copyNumbers(
  out: Float64Array | BigInt64Array | BigUint64Array,
  t: AnyTensor,
  count: number,
  at: number,
): void {
  const d = t.data
  if (t.dtype === 'float16') {
    const bits = d as Uint16Array
    for (let i = 0; i < count; i++) out[at + i] = halfToNumber(bits[i] as number)
  } else (out as Float64Array).set((d as Float32Array).subarray(0, count), at) // converts element types, no intermediate copy
}

/** The tensor columns of a request, prefixed as the log names them. */
function tensorsOf(r: InferenceRecord): Array<[string, AnyTensor]> {
  return [
    ...Object.entries(r.inputs).map(([n, t]): [string, AnyTensor] => [`in.${n}`, t]),
    ...Object.entries(r.outputs).map(([n, t]): [string, AnyTensor] => [`out.${n}`, t]),
    ...Object.entries(r.shadow),
  ]
}

/**
 * Split requests into runs whose same-named columns agree in kind (a new pipeline version may turn
 * `out.y` from [N] into [N, 3]); each run becomes one frame.
 */
function compatibleRuns(records: InferenceRecord[]): InferenceRecord[][] {
  const runs: InferenceRecord[][] = []
  let kinds = new Map<string, Kind>()
  let run: InferenceRecord[] = []
  for (const r of records) {
    const own = tensorsOf(r).map(([name, t]): [string, Kind] => [name, kindOf(t)])
    if (own.some(([name, kind]) => (kinds.get(name) ?? kind) !== kind)) {
      runs.push(run)
      run = []
      kinds = new Map()
    }
    for (const [name, kind] of own) kinds.set(name, kind)
    run.push(r)
  }
  if (run.length > 0) runs.push(run)
  return runs
}

/** Where one request's tensor lands in a column: rows `at..at+rows`, `width` values per row. */
interface Part {
  at: number
  rows: number
  width: number
  t: AnyTensor
}

interface Built {
  kind: Kind
  parts: Part[]
}

/** No validity bitmap (every row present): flechette writes it as an empty buffer. */
const NONE = new Uint8Array(0)

/** Arrow validity bitmap (LSB first, 1 = present) of rows covered by `parts`; empty when all are. */
function validity(n: number, parts: Part[]): { bits: Uint8Array; nulls: number } {
  const covered = parts.reduce((a, p) => a + p.rows, 0)
  if (covered === n) return { bits: NONE, nulls: 0 }
  const bits = new Uint8Array((n + 7) >> 3)
  for (const p of parts)
    for (let i = p.at; i < p.at + p.rows; i++) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7))
  return { bits, nulls: n - covered }
}

/** A numeric column straight into Arrow buffers (its element, or a list of it with offsets): no per-row objects. */
function numericColumn(n: number, c: Built, element: Element): Column<unknown> {
  const { bits, nulls } = validity(n, c.parts)
  const { type: elementType, Array: Values } = ELEMENTS[element]
  const Elements = batchType(elementType())
  if (c.kind === element) {
    const values = new Values(n)
    for (const p of c.parts) copyNumbers(values, p.t, p.rows, p.at)
    return new Column([new Elements({ length: n, nullCount: nulls, type: elementType(), validity: bits, values })])
  }
  const offsets = new Int32Array(n + 1)
  const widths = new Int32Array(n)
  for (const p of c.parts) widths.fill(p.width, p.at, p.at + p.rows)
  for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i] as number) + (widths[i] as number)
  const values = new Values(offsets[n] as number)
  for (const p of c.parts) copyNumbers(values, p.t, p.rows * p.width, offsets[p.at] as number)
  const child = new Elements({ length: values.length, nullCount: 0, type: elementType(), validity: NONE, values })
  const type = list(elementType())
  const List = batchType(type)
  return new Column([new List({ length: n, nullCount: nulls, type, validity: bits, offsets, children: [child] })])
}

const encoder = new TextEncoder()

/**
 * A utf8 column straight into Arrow buffers, each distinct string encoded once (a log's `model`
 * and label columns repeat a handful of values); null where `values[i]` is undefined.
 */
function utf8Column(values: ArrayLike<string | undefined>): Column<unknown> {
  const n = values.length
  const cache = new Map<string, Uint8Array>()
  const encoded: Array<Uint8Array | undefined> = new Array(n)
  const offsets = new Int32Array(n + 1)
  let nulls = 0
  for (let i = 0; i < n; i++) {
    const v = values[i]
    let bytes: Uint8Array | undefined
    if (v === undefined) nulls++
    else {
      bytes = cache.get(v)
      if (!bytes) {
        bytes = encoder.encode(v)
        if (cache.size < 4096) cache.set(v, bytes)
      }
    }
    encoded[i] = bytes
    offsets[i + 1] = (offsets[i] as number) + (bytes?.length ?? 0)
  }
  const data = new Uint8Array(offsets[n] as number)
  let bits = NONE
  if (nulls > 0) bits = new Uint8Array((n + 7) >> 3)
  for (let i = 0; i < n; i++) {
    const b = encoded[i]
    if (b) data.set(b, offsets[i] as number)
    if (b && nulls > 0) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7))
  }
  const Utf8 = batchType(utf8())
  return new Column([new Utf8({ length: n, nullCount: nulls, type: utf8(), validity: bits, offsets, values: data })])
}

/** A boolean or list-of-strings column through flechette's builder (values per row, null where absent). */
function builtColumn(n: number, c: Built): Column<unknown> {
  const values: unknown[] = new Array(n).fill(null)
  for (const { at, rows, width, t } of c.parts) {
    const d = t.data as ArrayLike<unknown>
    for (let i = 0; i < rows; i++) {
      if (c.kind === 'bool') values[at + i] = d[i] !== 0
      else values[at + i] = (d as string[]).slice(i * width, (i + 1) * width)
    }
  }
  return columnFromArray(values, (c.kind === 'bool' ? bool() : list(utf8())) as never)
}

/** Each row's index in its request as a float64 column, null where the request had no id. */
function rowsOfIds(rows: Float64Array, ids: ArrayLike<string | undefined>): Column<unknown> {
  const n = rows.length
  let nulls = 0
  for (let i = 0; i < n; i++) if (ids[i] === undefined) nulls++
  let bits = NONE
  if (nulls > 0) {
    bits = new Uint8Array((n + 7) >> 3)
    for (let i = 0; i < n; i++) if (ids[i] !== undefined) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7))
  }
  const F64 = batchType(float64())
  return new Column([new F64({ length: n, nullCount: nulls, type: float64(), validity: bits, values: rows })])
}

/** One run of compatible requests as an Arrow table, one row per inference row. */
function recordsTable(records: InferenceRecord[]): Table {
  const n = records.reduce((a, r) => a + r.rows, 0)
  const time = new BigInt64Array(n)
  const version = new Float64Array(n)
  const latency = new Float64Array(n)
  const checks = new Float64Array(n)
  const model: string[] = new Array(n)
  const ids: Array<string | undefined> = new Array(n)
  const idRows = new Float64Array(n)
  const cols = new Map<string, Built>()
  let at = 0
  for (const r of records) {
    time.fill(BigInt(Math.round(r.time)), at, at + r.rows)
    version.fill(r.pipelineVersion, at, at + r.rows)
    latency.fill(r.latencyMs, at, at + r.rows)
    for (let i = 0; i < r.rows; i++) {
      checks[at + i] = r.checkFailures[i] ?? 0
      model[at + i] = r.rowModels[i] ?? r.model
      ids[at + i] = r.requestId
      idRows[at + i] = i
    }
    for (const [name, t] of tensorsOf(r)) {
      let col = cols.get(name)
      if (!col) {
        col = { kind: kindOf(t), parts: [] }
        cols.set(name, col)
      }
      const width = t.dims.slice(1).reduce((a, b) => a * b, 1)
      col.parts.push({ at, rows: Math.min(r.rows, t.dims[0] ?? 1), width, t })
    }
    at += r.rows
  }
  const f64 = (values: Float64Array) => {
    const F64 = batchType(float64())
    return new Column([new F64({ length: n, nullCount: 0, type: float64(), validity: NONE, values })])
  }
  const ts = timestamp(TimeUnit.MILLISECOND)
  const TS = batchType(ts)
  const columns: Record<string, Column<unknown>> = {
    time: new Column([new TS({ length: n, nullCount: 0, type: ts, validity: NONE, values: time })]),
    pipeline_version: f64(version),
    model: utf8Column(model),
    check_failures: f64(checks),
    latency_ms: f64(latency),
    request_id: utf8Column(ids),
    request_row: rowsOfIds(idRows, ids),
  }
  for (const [name, c] of cols) {
    const element = c.kind.replace('[]', '') as Element | 'str' | 'bool'
    if (element in ELEMENTS) columns[name] = numericColumn(n, c, element as Element)
    else if (c.kind === 'str') {
      const values: Array<string | undefined> = new Array(n)
      for (const p of c.parts) for (let i = 0; i < p.rows; i++) values[p.at + i] = (p.t.data as string[])[i]
      columns[name] = utf8Column(values)
    } else columns[name] = builtColumn(n, c)
  }
  return tableFromColumns(columns)
}

/** Frames (length-prefixed Arrow IPC streams) holding `records`, ready to append, with their tables. */
export function encodeFrames(records: InferenceRecord[]): Array<{ bytes: Uint8Array; table: Table }> {
  return compatibleRuns(records).map((run) => {
    const table = recordsTable(run)
    const ipc = tableToIPC(table, { format: 'stream' }) as Uint8Array
    const bytes = new Uint8Array(HEAD + ipc.length)
    const view = new DataView(bytes.buffer)
    view.setUint32(0, ipc.length, true)
    view.setUint32(4, MAGIC, true)
    bytes.set(ipc, HEAD)
    return { bytes, table }
  })
}

/**
 * How the log's tables are decoded, frames and rolled segments alike: INT64/UINT64 columns as
 * bigints (flechette's default converts each to a number and throws past 2^53); timestamps stay
 * numbers of milliseconds.
 */
export const LOG_TABLE_OPTIONS = { useBigInt: true } as const

/** The whole frames of an open segment's bytes, and where they end (a torn frame starts there). */
export function decodeFrames(bytes: Uint8Array): { tables: Table[]; end: number } {
  const tables: Table[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at + HEAD <= bytes.length) {
    const length = view.getUint32(at, true)
    if (length === 0 || view.getUint32(at + 4, true) !== MAGIC || at + HEAD + length > bytes.length) break
    const ipc = bytes.subarray(at + HEAD, at + HEAD + length)
    try {
      // int64 columns are read as BigInt64Array views: their bytes must be 8-aligned.
      tables.push(tableFromIPC(ipc.byteOffset % 8 === 0 ? ipc : ipc.slice(), LOG_TABLE_OPTIONS))
    } catch {
      break // only the last frame can be torn: nothing after it was acknowledged
    }
    at += HEAD + length
  }
  return { tables, end: at }
}

/** A column's type as a comparable string (list types include their element type, integers their width and sign). */
function typeKey(type: DataType): string {
  const child = (type as { children?: Array<{ type: DataType }> }).children?.[0]?.type
  if (child) return `${type.typeId}<${typeKey(child)}>`
  return type.typeId === Type.Int ? `${type.typeId}:${type.signed ? 'i' : 'u'}${type.bitWidth}` : String(type.typeId)
}

/** Column name → type key of a table. */
export function schemaKeys(table: Table): Map<string, string> {
  return new Map(table.schema.fields.map((f) => [f.name, typeKey(f.type)]))
}

/**
 * One table of the frames' rows, batches kept as they are (no re-encoding); a column some frames
 * lack is null there. Same-named columns must agree in type (the log rolls before they would not).
 */
export function mergeTables(tables: Table[]): Table {
  const types = new Map<string, DataType>()
  for (const t of tables) for (const f of t.schema.fields) if (!types.has(f.name)) types.set(f.name, f.type)
  const columns: Record<string, Column<unknown>> = {}
  for (const [name, type] of types) {
    const batches = tables.flatMap((t) => {
      const child = t.getChild(name)
      return child ? child.data : columnFromArray(new Array(t.numRows).fill(null), type as never).data
    })
    columns[name] = new Column(batches as never, type)
  }
  return tableFromColumns(columns)
}
