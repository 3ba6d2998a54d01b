/**
 * A training set's rows: a range of a pipeline's inference log joined with the outcomes clients
 * sent for it, read column-wise a segment at a time and handed on as Arrow IPC streams of at most
 * `chunkRows` rows (the Parquet file's row groups), so memory holds about one segment and one
 * chunk whatever the range.
 *
 * Columns, in order: `time` (timestamp, ms, UTC), `pipeline_version` (int32), `model` (the model
 * that answered the row), `request_id` and `request_row` (the OIP request id and the row's index in
 * it; null without an id), each logged input `in.<name>`, the settings' output `out.<output>`,
 * `outcome` (float64: the class index of a classifier's outcome, or a regressor's value; null
 * where none arrived or it names no class) and, for a classifier with labels, `outcome_label`.
 * Every input and the output is a list per row: the row's values flattened row-major (a [N]
 * tensor's one value is a list of one), numbers as float64 (booleans 0/1; 64-bit integers past
 * 2^53 rounded), strings as strings. Lists keep one schema across pipeline versions that log a
 * scalar in one and a row of values in another.
 *
 * The inputs are those of the first log table the range reads (one schema per file): inputs that
 * appear later, or that turn from numbers into strings, are left out and named in `dropped`.
 */
import {
  type Column,
  type DataType,
  float64,
  int32,
  list,
  type Table,
  TimeUnit,
  Type,
  tableFromArrays,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import type { InferenceLog } from '../logs/inference-log.js'
import { segmentTables } from '../logs/log-query.js'
import { rowTimes } from '../logs/segment.js'
import type { OutcomeRecord, OutcomeStore } from '../store/types.js'
import { classIndex, columnKey, keyText, type OutcomeSpec, requestKey, storable } from './spec.js'

/** A column of a training set: its name and type, spelled as pyarrow prints them. */
export interface TrainingField {
  name: string
  type: 'timestamp[ms, tz=UTC]' | 'int32' | 'string' | 'double' | 'list<double>' | 'list<string>'
}

/** Outcome keys asked of the store at once. */
const KEYS_PER_LOOKUP = 500

/**
 * Values (list elements and scalars) a chunk holds at most, whatever its row count: rows of
 * 784 pixels make chunks (and row groups) of about 5,000 rows, not 65,536.
 */
const CHUNK_VALUES = 4_000_000

/** What to read and how much. */
export interface TrainingRowsQuery {
  workspace: string
  pipeline: string
  spec: OutcomeSpec
  start: number
  end: number
  /** Only rows whose outcome arrived. */
  labeledOnly: boolean
  /** Log rows read at most; the rest of the range is left (`truncated`). */
  maxRows: number
  /** Rows per chunk (row group). */
  chunkRows: number
}

/** What a read found, filled in as its chunks are taken. */
export interface TrainingRowsStats {
  /** The columns, fixed by the first log table read (before that: those every set has). */
  fields: TrainingField[]
  /** Log rows of the range read. */
  read: number
  /** Rows written (with `labeledOnly`, the labeled ones). */
  rows: number
  /** Rows written with an outcome. */
  labeledRows: number
  /** Whether `maxRows` stopped the read before the range's end. */
  truncated: boolean
  /** Time of the last row read (ms), or null before one. */
  lastTime: number | null
  /** Logged inputs left out (see the module comment). */
  dropped: Set<string>
  /** Rows per chunk, from the width of the first rows read: the Parquet writer's row group size. */
  groupRows: number
}

type Kind = 'number' | 'string'
type Cell = number[] | string[] | null

const TYPES: Record<TrainingField['type'], DataType> = {
  'timestamp[ms, tz=UTC]': timestamp(TimeUnit.MILLISECOND, 'UTC'),
  int32: int32(),
  string: utf8(),
  double: float64(),
  'list<double>': list(float64()),
  'list<string>': list(utf8()),
}

/** The element kind of a logged column's type; undefined for a type a training set does not carry. */
function kindOf(type: DataType): Kind | undefined {
  const element = type.typeId === Type.List ? type.children[0]?.type : type
  if (!element) return undefined
  if (element.typeId === Type.Utf8 || element.typeId === Type.LargeUtf8) return 'string'
  if (element.typeId === Type.Int || element.typeId === Type.Float || element.typeId === Type.Bool) return 'number'
  return undefined
}

/** A logged value as a list cell of `kind`; null when it is missing or of another kind. */
function cellOf(v: unknown, kind: Kind): Cell {
  if (v === null || v === undefined) return null
  const items: ArrayLike<unknown> = typeof v === 'object' && 'length' in (v as object) ? (v as ArrayLike<unknown>) : [v]
  if (kind === 'string') {
    const out: string[] = []
    for (let i = 0; i < items.length; i++) {
      const x = items[i]
      if (typeof x !== 'string') return null
      out.push(x)
    }
    return out
  }
  const out: number[] = []
  for (let i = 0; i < items.length; i++) {
    const x = items[i]
    if (typeof x === 'number') out.push(x)
    else if (typeof x === 'bigint' || typeof x === 'boolean') out.push(Number(x))
    else return null
  }
  return out
}

/** The join key a row's outcome is stored under; undefined when the row has none (or an unstorable one). */
function keyOf(spec: OutcomeSpec, id: unknown, row: unknown, keyValue: unknown): string | undefined {
  if (spec.key !== undefined) {
    const v =
      keyValue !== null && typeof keyValue === 'object' && 'length' in keyValue
        ? (keyValue as ArrayLike<unknown>)[0]
        : keyValue
    const text = keyText(v)
    return text === undefined || !storable(text) ? undefined : columnKey(text)
  }
  return typeof id === 'string' && storable(id) && typeof row === 'number' ? requestKey(id, row) : undefined
}

/** The columns every training set has, before and after the inputs. */
function fieldsFor(spec: OutcomeSpec, inputs: Array<[string, Kind]>): TrainingField[] {
  return [
    { name: 'time', type: 'timestamp[ms, tz=UTC]' },
    { name: 'pipeline_version', type: 'int32' },
    { name: 'model', type: 'string' },
    { name: 'request_id', type: 'string' },
    { name: 'request_row', type: 'int32' },
    ...inputs.map(
      ([name, kind]): TrainingField => ({ name, type: kind === 'string' ? 'list<string>' : 'list<double>' }),
    ),
    { name: `out.${spec.output}`, type: 'list<double>' },
    { name: 'outcome', type: 'double' },
    ...(spec.labels ? [{ name: 'outcome_label', type: 'string' } as const] : []),
  ]
}

/** Rows gathered column by column until they are encoded as a chunk. */
class Chunk {
  readonly columns: Record<string, unknown[]> = {}
  rows = 0
  constructor(readonly fields: TrainingField[]) {
    for (const f of fields) this.columns[f.name] = []
  }

  /** The rows as an Arrow IPC stream (a schema without batches when there are none); empties the chunk. */
  take(): Uint8Array {
    const types = Object.fromEntries(this.fields.map((f) => [f.name, TYPES[f.type]]))
    const bytes = tableToIPC(tableFromArrays(this.columns as never, { types: types as never }), { format: 'stream' })
    for (const f of this.fields) this.columns[f.name] = []
    this.rows = 0
    return bytes as Uint8Array
  }
}

/**
 * The training set of `q` as Arrow IPC streams, one per chunk of rows, oldest rows first; `stats`
 * says what was read (final once the last chunk is taken). No chunk at all when the range has no
 * rows to write: {@link emptyChunk} gives the schema then.
 */
export async function* trainingChunks(
  log: InferenceLog,
  outcomes: OutcomeStore,
  q: TrainingRowsQuery,
  stats: TrainingRowsStats,
): AsyncGenerator<Uint8Array> {
  let chunk: Chunk | undefined
  let inputs: Map<string, Kind> | undefined
  for (const segment of await log.segments(q.workspace, q.pipeline, q.start, q.end)) {
    for (const table of await segmentTables(segment)) {
      const times = rowTimes(table)
      const picked: number[] = []
      for (let i = 0; i < times.length; i++) {
        const t = times[i] as number
        if (t >= q.start && t < q.end) picked.push(i)
      }
      if (picked.length === 0) continue
      if (!inputs) {
        stats.groupRows = Math.max(
          1,
          Math.min(q.chunkRows, Math.floor(CHUNK_VALUES / rowValues(table, picked[0] as number))),
        )
        inputs = new Map(
          table.schema.fields.flatMap((f): Array<[string, Kind]> => {
            const kind = f.name.startsWith('in.') ? kindOf(f.type) : undefined
            if (f.name.startsWith('in.') && !kind) stats.dropped.add(f.name)
            return kind ? [[f.name, kind]] : []
          }),
        )
        stats.fields = fieldsFor(q.spec, [...inputs])
        chunk = new Chunk(stats.fields)
      }
      for (const f of table.schema.fields) {
        if (f.name.startsWith('in.') && inputs.get(f.name) !== kindOf(f.type)) stats.dropped.add(f.name)
      }
      for (let s = 0; s < picked.length; ) {
        const left = q.maxRows - stats.read
        if (left <= 0) {
          stats.truncated = true
          break
        }
        // A chunk may reach twice the group size (rows read in a step are kept together): with
        // `labeledOnly`, steps of a few rows would each cost a look-up.
        const rows = picked.slice(s, s + Math.min(stats.groupRows, left))
        s += rows.length
        await addRows(outcomes, q, table, times, rows, inputs, chunk as Chunk, stats)
        if ((chunk as Chunk).rows >= stats.groupRows) yield (chunk as Chunk).take()
      }
      if (stats.truncated) break
    }
    if (stats.truncated) break
  }
  if (chunk && chunk.rows > 0) yield chunk.take()
}

/** Values of row `i` of a log table: one per scalar, a list's length for a list (at least 1). */
function rowValues(table: Table, i: number): number {
  let n = 0
  for (const c of table.children) {
    const v = c.at(i)
    n += v !== null && typeof v === 'object' && 'length' in v ? (v as ArrayLike<unknown>).length : 1
  }
  return Math.max(1, n)
}

/** A chunk of no rows with `fields`: the schema of a training set with nothing to write. */
export function emptyChunk(fields: TrainingField[]): Uint8Array {
  return new Chunk(fields).take()
}

/** Add rows `rows` (indices into `table`) to `chunk`: their values, their outcomes looked up by key. */
async function addRows(
  outcomes: OutcomeStore,
  q: TrainingRowsQuery,
  table: Table,
  times: Float64Array,
  rows: number[],
  inputs: Map<string, Kind>,
  chunk: Chunk,
  stats: TrainingRowsStats,
): Promise<void> {
  const col = (name: string) => table.getChild(name) as Column<unknown> | null
  const at = (c: Column<unknown> | null, i: number) => (c ? c.at(i) : null)
  const [version, model, ids, idRows] = ['pipeline_version', 'model', 'request_id', 'request_row'].map(col)
  const keyColumn = q.spec.key === undefined ? null : col(`in.${q.spec.key}`)
  const keys = rows.map((i) => keyOf(q.spec, at(ids ?? null, i), at(idRows ?? null, i), at(keyColumn, i)))
  const found = await lookUp(outcomes, q, keys)
  const output = col(`out.${q.spec.output}`)
  const classes = q.spec.labels?.length ?? Number.MAX_SAFE_INTEGER
  const c = chunk.columns
  const inputColumns = [...inputs].map(([name, kind]) => ({ name, kind, column: col(name) }))
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r] as number
    stats.read++
    stats.lastTime = times[i] as number
    const key = keys[r]
    const sent = key === undefined ? undefined : found.get(key)
    const outcome =
      sent === undefined
        ? null
        : q.spec.task === 'classification'
          ? classIndex(sent.value, q.spec.labels, classes)
          : typeof sent.value === 'number'
            ? sent.value
            : Number.NaN
    const labeled = outcome !== null && !Number.isNaN(outcome)
    if (q.labeledOnly && !labeled) continue
    const id = at(ids ?? null, i)
    const idRow = at(idRows ?? null, i)
    c.time?.push(times[i])
    c.pipeline_version?.push(Number(at(version ?? null, i) ?? Number.NaN))
    c.model?.push(at(model ?? null, i))
    c.request_id?.push(typeof id === 'string' ? id : null)
    c.request_row?.push(typeof idRow === 'number' ? idRow : null)
    for (const { name, kind, column } of inputColumns) c[name]?.push(cellOf(at(column, i), kind))
    c[`out.${q.spec.output}`]?.push(cellOf(at(output, i), 'number'))
    c.outcome?.push(labeled ? outcome : null)
    if (q.spec.labels) c.outcome_label?.push(labeled ? (q.spec.labels[outcome as number] ?? null) : null)
    chunk.rows++
    stats.rows++
    if (labeled) stats.labeledRows++
  }
}

/** The outcomes stored for `keys` (undefined entries skipped), by key, asked a few hundred at a time. */
async function lookUp(
  outcomes: OutcomeStore,
  q: TrainingRowsQuery,
  keys: Array<string | undefined>,
): Promise<Map<string, OutcomeRecord>> {
  const wanted = [...new Set(keys.filter((k): k is string => k !== undefined))]
  const found = new Map<string, OutcomeRecord>()
  for (let s = 0; s < wanted.length; s += KEYS_PER_LOOKUP) {
    for (const o of await outcomes.get(q.workspace, q.pipeline, wanted.slice(s, s + KEYS_PER_LOOKUP)))
      found.set(o.key, o)
  }
  return found
}

/** Stats before anything is read: the fields every training set of `spec` has. */
export function freshStats(spec: OutcomeSpec, chunkRows: number): TrainingRowsStats {
  return {
    fields: fieldsFor(spec, []),
    read: 0,
    rows: 0,
    labeledRows: 0,
    truncated: false,
    lastTime: null,
    dropped: new Set(),
    groupRows: chunkRows,
  }
}
