/**
 * Hostile and valid `dataset` queries and `Accept` headers for the pipeline route's fuzzers
 * (pandas-records and Arrow), and what an answer's column names may be for a query.
 */
import fc from 'fast-check'

/** A query as the fuzzers send it. */
export interface FuzzQuery {
  include?: string[]
  exclude?: string[]
  separator?: string
  flatten?: string
}

const pathLike = fc.oneof(
  fc.constantFrom('*', 'time', 'in', 'out', 'check_failures', 'anomaly', 'metadata', 'in.a', 'in.c', 'out.ya'),
  fc.constantFrom('out.yc', 'out.y', 'in.x', 'metadata.elapsed', 'metadata.last_model', 'anomaly.count', 'time.x'),
  fc.constantFrom('out.', '.', '__proto__', 'in.__proto__', 'constructor', 'metadata.toString', 'x'.repeat(5000)),
  fc.string({ maxLength: 12 }),
)

export const datasetQuery: fc.Arbitrary<FuzzQuery> = fc.record(
  {
    include: fc.array(pathLike, { maxLength: 4 }),
    exclude: fc.array(pathLike, { maxLength: 3 }),
    separator: fc.oneof(fc.constantFrom('.', '_', '/', '::', '', '.'.repeat(17)), fc.string({ maxLength: 20 })),
    flatten: fc.oneof(fc.constantFrom('true', 'false'), fc.string({ maxLength: 6 })),
  },
  { requiredKeys: [] },
)

export const acceptHeader: fc.Arbitrary<string | null> = fc.option(
  fc.oneof(
    fc.constantFrom(
      '*/*',
      'application/json',
      'application/json; format=pandas-records;q=0.5, application/vnd.apache.arrow.file',
      'application/vnd.apache.arrow.stream;q=0',
      'application/vnd.apache.arrow.stream',
      'text/html',
      'application/json; format=wallaroo',
      ';;,,q=2',
      'application/*;q=abc',
    ),
    fc.string({ maxLength: 40 }),
  ),
)

/** The query string, keys repeated as Wallaroo's SDK sends them. */
export function queryString(q: FuzzQuery): string {
  const params = new URLSearchParams()
  for (const v of q.include ?? []) params.append('dataset[]', v)
  for (const v of q.exclude ?? []) params.append('dataset.exclude[]', v)
  if (q.separator !== undefined) params.append('dataset.separator', q.separator)
  if (q.flatten !== undefined) params.append('dataset.flatten', q.flatten)
  return params.toString()
}

const FIELDS = ['time', 'in', 'out', 'check_failures', 'anomaly', 'metadata']

/** Whether `name` can be a column of an answer to `q`: a field, or (flat) a field then the separator. */
export function columnFits(name: string, q: FuzzQuery): boolean {
  const separator = q.separator || (q.flatten === 'true' ? '.' : undefined) // an empty value is none
  return FIELDS.some((f) => name === f || (separator !== undefined && name.startsWith(`${f}${separator}`)))
}
