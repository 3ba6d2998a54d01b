/**
 * The join of a pipeline's inference log with its outcomes: the rows of a time range, grouped by
 * pipeline version and arm (the model that answered a row, for a split's arms; each shadow
 * challenger's `out_<model>.<output>` apart), each with its prediction and, where one arrived, its
 * outcome. Rows are read column-wise, segment by segment, at most {@link MAX_SAMPLE_ROWS} of them;
 * outcomes are looked up {@link KEYS_PER_QUERY} keys at a time. A row's key is its request id and
 * index in the request (`request_id`, `request_row`), or its key column's value (`in.<key>`).
 */
import type { Column } from '@uwdata/flechette'
import type { InferenceLog } from '../logs/inference-log.js'
import { segmentTables } from '../logs/log-query.js'
import { rowTimes } from '../logs/segment.js'
import type { OutcomeStore } from '../store/types.js'
import { classIndex, columnKey, keyText, type OutcomeSpec, requestKey, storable } from './spec.js'

/** Rows of the log one join reads at most; a range holding more is cut there (`truncated`). */
const MAX_SAMPLE_ROWS = 1_000_000

/**
 * Prediction values (rows × width, shadows' too) one join holds at most, 64 MB of float64; a range
 * holding more is cut at the first row past them (`truncated`): a wide classifier's rows (a
 * thousand classes) would otherwise take gigabytes before {@link MAX_SAMPLE_ROWS} is reached.
 */
const MAX_SAMPLE_VALUES = 8_000_000

/** Keys looked up in the store per query. */
const KEYS_PER_QUERY = 500

/** One arm's rows of one pipeline version: predictions and outcomes, row by row. */
export interface ArmSamples {
  /** The model whose predictions these are (the log's `model` for split arms; the <model> of `out_<model>.<output>` for shadow challengers). */
  arm: string
  /** Pipeline version. */
  version: number
  shadow: boolean
  /** Values per prediction: classes for a classifier (a single P(class 1) is widened to [1−p, p]), 1 for a regressor. */
  width: number
  /** ms since the epoch, per row. */
  time: Float64Array
  /** rows × width, row-major. */
  predictions: Float64Array
  /** Class index or value per row; NaN where no outcome arrived (or it names no class). */
  outcomes: Float64Array
}

/** The join of a range: its arms, the log rows read, and whether the range held more. */
export interface Samples {
  arms: ArmSamples[]
  /** Log rows read (each counted once, whatever its shadows). */
  rows: number
  truncated: boolean
  /** Predictions left out: missing, or of another width than their arm's first (a model that changed shape). */
  skipped: number
  /** Outcomes that arrived but name no class (an unknown label, an index out of range) or, for a regressor, are no number: left unlabeled. */
  unknown: number
}

/** Float64 values appended one at a time, in a buffer that doubles. */
class Growing {
  private buf = new Float64Array(64)
  length = 0

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2)
      next.set(this.buf)
      this.buf = next
    }
    this.buf[this.length++] = v
  }

  values(): Float64Array {
    return this.buf.slice(0, this.length)
  }
}

interface ArmRows {
  arm: string
  version: number
  shadow: boolean
  width: number
  time: Growing
  predictions: Growing
  keys: Array<string | undefined>
}

/** A logged prediction as numbers: a scalar, or a list's values; undefined when null or not numeric. */
function numbers(v: unknown): number[] | undefined {
  if (typeof v === 'number') return [v]
  if (typeof v === 'bigint') return [Number(v)]
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const out = Array.from(v as ArrayLike<unknown>, (x) => (typeof x === 'bigint' ? Number(x) : x))
    return out.every((x) => typeof x === 'number') ? (out as number[]) : undefined
  }
  return undefined
}

/** A prediction in the arm's layout: a classifier's single P(class 1) widened to [1 − p, p]; a regressor's one value. */
function prediction(values: number[], task: OutcomeSpec['task']): number[] | undefined {
  if (task === 'regression') return values.length === 1 ? values : undefined
  if (values.length === 1) return [1 - (values[0] as number), values[0] as number]
  return values
}

/** The columns of one log table a join reads. */
function tableColumns(table: Awaited<ReturnType<typeof segmentTables>>[number], spec: OutcomeSpec) {
  const col = (name: string) => table.getChild(name) as Column<unknown> | null
  const suffix = `.${spec.output}`
  // The answer's output first (null in a table without it: every row's prediction is missing).
  const predictions: Array<{ arm: string | undefined; column: Column<unknown> | null }> = [
    { arm: undefined, column: col(`out${suffix}`) },
  ]
  for (const f of table.schema.fields) {
    if (f.name.startsWith('out_') && f.name.endsWith(suffix) && f.name.length > 4 + suffix.length)
      predictions.push({ arm: f.name.slice(4, -suffix.length), column: col(f.name) as Column<unknown> })
  }
  return {
    times: rowTimes(table),
    version: col('pipeline_version'),
    model: col('model'),
    ids: col('request_id'),
    idRows: col('request_row'),
    key: spec.key === undefined ? null : col(`in.${spec.key}`),
    predictions,
  }
}

/** A row's key: its key column's first value, or its request id and index; undefined without one (or an unstorable one). */
function rowKey(c: ReturnType<typeof tableColumns>, i: number): string | undefined {
  if (c.key) {
    const v = c.key.at(i)
    const text = keyText(ArrayBuffer.isView(v) || Array.isArray(v) ? (v as ArrayLike<unknown>)[0] : v)
    return text === undefined || !storable(text) ? undefined : columnKey(text)
  }
  const id = c.ids?.at(i)
  const row = c.idRows?.at(i)
  return typeof id === 'string' && storable(id) && typeof row === 'number' ? requestKey(id, row) : undefined
}

/**
 * The rows of `pipeline`'s log with `start <= time < end`, per version and arm, joined with the
 * outcomes the store holds for them: predictions as `spec.output` says, outcomes as class indices
 * (through `spec.labels`) or values. At most {@link MAX_SAMPLE_ROWS} rows and about
 * {@link MAX_SAMPLE_VALUES} prediction values (`maxRows`, `maxValues`), oldest first.
 */
export async function armSamples(
  log: InferenceLog,
  outcomes: OutcomeStore,
  ws: string,
  pipeline: string,
  spec: OutcomeSpec,
  start: number,
  end: number,
  maxRows = MAX_SAMPLE_ROWS,
  maxValues = MAX_SAMPLE_VALUES,
): Promise<Samples> {
  const arms = new Map<string, ArmRows>()
  let rows = 0
  let held = 0 // prediction values
  let skipped = 0
  let truncated = false
  const add = (arm: string, version: number, shadow: boolean, t: number, p: number[], key: string | undefined) => {
    const id = `${version}\0${shadow ? 1 : 0}\0${arm}`
    let a = arms.get(id)
    if (!a) {
      a = { arm, version, shadow, width: p.length, time: new Growing(), predictions: new Growing(), keys: [] }
      arms.set(id, a)
    }
    if (p.length !== a.width) return void skipped++
    held += p.length
    a.time.push(t)
    for (const v of p) a.predictions.push(v)
    a.keys.push(key)
  }
  scan: for (const segment of await log.segments(ws, pipeline, start, end)) {
    for (const table of await segmentTables(segment)) {
      const c = tableColumns(table, spec)
      for (let i = 0; i < c.times.length; i++) {
        const t = c.times[i] as number
        if (t < start || t >= end) continue
        if (rows >= maxRows || held >= maxValues) {
          truncated = true
          break scan
        }
        rows++
        const version = Number(c.version?.at(i) ?? 0)
        const key = rowKey(c, i)
        for (const { arm, column } of c.predictions) {
          const values = numbers(column?.at(i))
          const p = values && prediction(values, spec.task)
          if (!p) {
            if (arm === undefined) skipped++ // a shadow's missing column is no prediction of this row
            continue
          }
          add(arm ?? String(c.model?.at(i) ?? ''), version, arm !== undefined, t, p, key)
        }
      }
    }
  }
  const { values, unknown } = await lookUp(outcomes, ws, pipeline, spec, arms)
  const unknownKeys = new Set<string>() // outcomes that name no class, once per key whatever its arms
  const out = [...arms.values()]
    .sort((a, b) => a.version - b.version || Number(a.shadow) - Number(b.shadow) || (a.arm < b.arm ? -1 : 1))
    .map((a): ArmSamples => {
      const labels = Float64Array.from(a.keys, (k) => {
        const v = k === undefined ? undefined : values.get(k)
        if (k === undefined || v === undefined) return Number.NaN
        const label = spec.task === 'regression' ? (v as number) : classIndex(v, spec.labels, a.width)
        if (Number.isNaN(label)) unknownKeys.add(k)
        return label
      })
      return {
        arm: a.arm,
        version: a.version,
        shadow: a.shadow,
        width: a.width,
        time: a.time.values(),
        predictions: a.predictions.values(),
        outcomes: labels,
      }
    })
  return { arms: out, rows, truncated, skipped, unknown: unknown + unknownKeys.size }
}

/** The outcomes of every key the arms hold, {@link KEYS_PER_QUERY} at a time; a regressor's non-numbers counted and dropped. */
async function lookUp(
  outcomes: OutcomeStore,
  ws: string,
  pipeline: string,
  spec: OutcomeSpec,
  arms: ReadonlyMap<string, ArmRows>,
): Promise<{ values: Map<string, number | string>; unknown: number }> {
  const keys = new Set<string>()
  for (const a of arms.values()) for (const k of a.keys) if (k !== undefined) keys.add(k)
  const all = [...keys]
  const values = new Map<string, number | string>()
  let unknown = 0
  for (let at = 0; at < all.length; at += KEYS_PER_QUERY) {
    for (const o of await outcomes.get(ws, pipeline, all.slice(at, at + KEYS_PER_QUERY))) {
      if (spec.task === 'regression' && (typeof o.value !== 'number' || !Number.isFinite(o.value))) unknown++
      else values.set(o.key, o.value)
    }
  }
  return { values, unknown }
}
