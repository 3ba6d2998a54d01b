/**
 * Which parts of a pipeline answer a client gets, and how they are laid out: Wallaroo's engine's
 * `dataset` query, as its SDK sends it (`Deployment._init_infer_params`:
 * `dataset[]=*&dataset.exclude[]=metadata&dataset.separator=.`).
 *
 * An answer row has the fields `time` (ms since epoch), `in` (the row's inputs), `out` (its
 * outputs), `check_failures` (one entry per failed validation: the SDK takes its `len`), `anomaly`
 * (`{count}`, the newer engine's name for the same count) and `metadata`. Without a separator the
 * fields nest (`{"in": {"x": [..]}}`), with one they flatten (`{"in.x": [..]}`), as the engine
 * answers. `dataset[]` picks fields or one key of a field (`out.y`, `metadata.elapsed`), default
 * `*`; `dataset.exclude[]` drops them again.
 */
import { InvalidRequestError } from '../errors.js'

/** An answer's top-level fields, in the order the engine writes them. */
const DATASET_FIELDS = ['time', 'in', 'out', 'check_failures', 'anomaly', 'metadata'] as const
export type DatasetField = (typeof DATASET_FIELDS)[number]

/** What `*` selects: the fields of the engine's answers in Wallaroo's tutorials. */
const ALL: readonly DatasetField[] = ['time', 'in', 'out', 'check_failures', 'metadata']

/**
 * The metadata lastmile fills: `last_model` (a JSON string `{"model_name", "model_sha"}`, as the
 * engine writes it), `pipeline_version`, `elapsed` ([queued, ran] in ns) and lastmile's own
 * `model` (`name:version`).
 */
const METADATA_KEYS = ['last_model', 'pipeline_version', 'elapsed', 'model'] as const

/** Longest `dataset.separator` taken (the SDK sends "."). */
const MAX_SEPARATOR = 16

/** The `dataset` query as sent (repeated keys as lists). */
export interface DatasetQuery {
  /** `dataset[]`: fields or `field.key` paths, or `*`; none means `*`. */
  include: readonly string[]
  /** `dataset.exclude[]`: fields or `field.key` paths to leave out. */
  exclude: readonly string[]
  /** `dataset.separator`: flatten nested fields, joining names with it. */
  separator?: string
  /** `dataset.flatten` (`true`/`false`): flatten with "." (the engine's OpenAPI document names it). */
  flatten?: string
}

/** The answer's layout: selected fields in order, each with its selected keys (none for leaves). */
export interface Dataset {
  fields: Array<{ field: DatasetField; keys?: string[] }>
  /** Join nested names with this; nested objects when absent. */
  separator?: string
}

type Keyed = Exclude<DatasetField, 'time' | 'check_failures'>

/**
 * The layout a query asks for, against the pipeline's `inputs` and `outputs`. Throws
 * InvalidRequestError naming the entry and what is valid for an unknown field or key, a bad
 * separator, or a selection left empty.
 */
export function selectDataset(
  query: DatasetQuery,
  names: { inputs: readonly string[]; outputs: readonly string[] },
): Dataset {
  const keysOf: Record<Keyed, readonly string[]> = {
    in: names.inputs,
    out: names.outputs,
    anomaly: ['count'],
    metadata: METADATA_KEYS,
  }
  // Per field: undefined = not selected, 'all', or the set of selected keys.
  const picked = new Map<DatasetField, 'all' | Set<string>>()
  for (const entry of query.include.length ? query.include : ['*']) {
    if (entry === '*') {
      for (const f of ALL) picked.set(f, 'all')
      continue
    }
    const { field, key } = parsePath(entry, 'dataset[]', keysOf)
    const now = picked.get(field)
    if (key === undefined) picked.set(field, 'all')
    else if (now !== 'all') picked.set(field, (now ?? new Set<string>()).add(key))
  }
  const dropped = new Map<DatasetField, 'all' | Set<string>>()
  for (const entry of query.exclude) {
    const { field, key } = parsePath(entry, 'dataset.exclude[]', keysOf)
    const now = dropped.get(field)
    if (key === undefined) dropped.set(field, 'all')
    else if (now !== 'all') dropped.set(field, (now ?? new Set<string>()).add(key))
  }
  const fields: Dataset['fields'] = []
  for (const field of DATASET_FIELDS) {
    const sel = picked.get(field)
    const out = dropped.get(field)
    if (sel === undefined || out === 'all') continue
    if (field === 'time' || field === 'check_failures') {
      fields.push({ field })
      continue
    }
    const keys = keysOf[field].filter((k) => (sel === 'all' || sel.has(k)) && !out?.has(k))
    if (keys.length > 0) fields.push({ field, keys })
  }
  if (fields.length === 0) {
    throw new InvalidRequestError(
      `the dataset query selects nothing: dataset[] ${JSON.stringify(query.include)} less dataset.exclude[] ${JSON.stringify(query.exclude)}`,
    )
  }
  const separator = separatorOf(query)
  return separator === undefined ? { fields } : { fields, separator }
}

/** `field` or `field.key` (keys may hold dots: input names are free). */
function parsePath(
  entry: string,
  param: string,
  keysOf: Record<Keyed, readonly string[]>,
): { field: DatasetField; key?: string } {
  const dot = entry.indexOf('.')
  const field = (dot < 0 ? entry : entry.slice(0, dot)) as DatasetField
  if (!DATASET_FIELDS.includes(field)) {
    throw new InvalidRequestError(
      `${param} '${entry.slice(0, 80)}' is not a field of the answer; expected *, ${DATASET_FIELDS.join(', ')}, or one of their keys (e.g. out.<output>, metadata.elapsed)`,
    )
  }
  if (dot < 0) return { field }
  const key = entry.slice(dot + 1)
  if (field === 'time' || field === 'check_failures')
    throw new InvalidRequestError(`${param} '${entry.slice(0, 80)}': ${field} has no keys`)
  const keys = keysOf[field]
  if (!keys.includes(key)) {
    throw new InvalidRequestError(
      `${param} '${entry.slice(0, 80)}': ${field} has no key '${key.slice(0, 60)}'; its keys are ${keys.join(', ')}`,
    )
  }
  return { field, key }
}

function separatorOf(query: DatasetQuery): string | undefined {
  const { separator, flatten } = query
  if (separator !== undefined) {
    if (separator.length === 0 || separator.length > MAX_SEPARATOR) {
      throw new InvalidRequestError(
        `dataset.separator must be 1 to ${MAX_SEPARATOR} characters (e.g. "."), not ${separator.length}`,
      )
    }
    return separator
  }
  if (flatten === undefined || flatten === 'false') return undefined
  if (flatten === 'true') return '.'
  throw new InvalidRequestError(`dataset.flatten is '${flatten.slice(0, 20)}'; expected true or false`)
}

/** Column name of a field's key: `in.x` with the separator "." (nested answers name it by the key alone). */
export function columnName(dataset: Dataset, field: DatasetField, key?: string): string {
  return key === undefined ? field : `${field}${dataset.separator ?? '.'}${key}`
}
