/**
 * Pipeline inference in pandas-records JSON and Arrow IPC, answered as Wallaroo's engine answers:
 * in the format `Accept` asks for (the request's by default), with the fields and layout of the
 * `dataset` query; and a deployment's status.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { UnsupportedMediaTypeError } from '../../errors.js'
import type { ArrowFormat } from '../../formats/arrow.js'
import { type DatasetQuery, selectDataset } from '../../formats/dataset.js'
import { ARROW_TYPES, JSON_TYPE, RECORDS_TYPE } from '../../formats/media-types.js'
import { loggedRequestId } from '../../logs/record.js'
import type { Deployment } from '../../serving/deployment.js'
import type { Store } from '../../store/types.js'
import { datasetQuerySchema, REQUEST_ID_HEADER, recordsRowSchema } from '../../wire/records.js'
import { deploymentStatusSchema } from '../../wire/registry.js'
import { ANSWER_TYPES, negotiate } from '../accept.js'
import { type AdmittedBody, answer, contentType, inferenceBody } from '../body.js'
import { type ServerDeps, servingDeployment } from '../deps.js'
import { feedRows } from '../metrics.js'
import type { RouteTable } from '../route-table.js'

/** The Arrow framing a request's media type names. */
const ARROW_BY_TYPE = new Map(Object.entries(ARROW_TYPES).map(([format, type]) => [type, format as ArrowFormat]))

/**
 * Wallaroo's `dataset` query (repeated keys, as its SDK sends them through httpx or requests). An
 * empty value is no value, as for every query parameter (`dataset.separator=` answers nested).
 */
function datasetQuery(c: Context): DatasetQuery {
  const all = (key: string) => (c.req.queries(key) ?? []).filter((v) => v !== '')
  const [separator] = all('dataset.separator')
  const [flatten] = all('dataset.flatten')
  return {
    include: all('dataset[]'),
    exclude: all('dataset.exclude[]'),
    ...(separator === undefined ? {} : { separator }),
    ...(flatten === undefined ? {} : { flatten }),
  }
}

/**
 * sha256 of a deployment's models by reference, from the registry, for `metadata.last_model`. Looked
 * up once per deployment: a deployed model cannot be deleted, so its record stays as it was.
 */
class ModelShas {
  private readonly known = new WeakMap<Deployment, Map<string, Promise<string | undefined>>>()

  constructor(private readonly store: Store) {}

  async of(ws: string, d: Deployment, rowModels: readonly string[]): Promise<Record<string, string>> {
    const refs = this.known.get(d) ?? new Map<string, Promise<string | undefined>>()
    this.known.set(d, refs)
    const out: Record<string, string> = {}
    for (const ref of new Set(rowModels.flatMap((m) => m.split('+')))) {
      let sha = refs.get(ref)
      if (!sha) {
        const colon = ref.lastIndexOf(':')
        const version = Number(ref.slice(colon + 1))
        sha = this.store.models.get(ws, ref.slice(0, colon), version).then(
          (m) => m?.sha256,
          (e) => {
            refs.delete(ref) // a failed lookup is asked again next time
            throw e
          },
        )
        refs.set(ref, sha)
      }
      const known = await sha
      if (known !== undefined) out[ref] = known
    }
    return out
  }
}

export function inferenceRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { manager, metrics } = deps
  const shas = new ModelShas(deps.store)
  const tag = 'Inference'
  const infer = {
    method: 'post' as const,
    path: '/v1/workspaces/{ws}/pipelines/{name}/infer',
    summary:
      'Inference in pandas-records JSON or Arrow IPC (answered in the format Accept asks for); X-Request-Id names the request in the log',
    tag,
    // Wallaroo's SDK calls this route too: its requests get Wallaroo's engine error body.
    errorStyle: 'wallaroo' as const,
    access: 'viewer' as const,
    audit: false as const, // answers, changes nothing
    body: { raw: Object.values(ANSWER_TYPES) },
    query: datasetQuerySchema,
    responses: {
      200: {
        description: 'one record (or Arrow row) per input row',
        json: z.array(recordsRowSchema),
        media: Object.values(ARROW_TYPES),
      },
      400: 'bad request or input',
      404: 'not deployed',
      413: 'body too large',
      406: 'Accept allows none of pandas-records, Arrow stream or Arrow file',
      408: 'a large body that arrived too slowly',
      415: 'unsupported content type',
      429: 'queue full',
      503: 'not ready',
      504: 'timeout',
    },
  }
  routes.add(app, infer, async (c) => {
    const { ws, name } = c.req.param() as { ws: string; name: string }
    const { type } = contentType(c)
    const arrow = ARROW_BY_TYPE.get(type)
    if (!arrow && type !== JSON_TYPE) {
      throw new UnsupportedMediaTypeError(
        `Content-Type '${type || '(none)'}' is not accepted here; send ${RECORDS_TYPE}, ${ARROW_TYPES.stream} or ${ARROW_TYPES.file}`,
      )
    }
    const labels = { workspace: '', pipeline: '', protocol: arrow ? 'arrow' : 'records' }
    const started = performance.now()
    let rows = 0
    let body: AdmittedBody | undefined
    try {
      const d = servingDeployment(deps, ws, name)
      labels.workspace = ws // only deployed names become label values
      labels.pipeline = name
      // Refused before the body is read: an answer nobody can take, a layout that cannot be.
      const format = negotiate(c.req.header('accept'), arrow ?? 'records')
      const query = datasetQuery(c)
      selectDataset(query, { inputs: d.inputs.map((s) => s.name), outputs: d.outputs.map((o) => o.name) })
      body = await inferenceBody(c, deps)
      const task = { bytes: body.bytes, specs: d.inputs, limits: { maxTensorBytes: deps.tensorLimitBytes } }
      const feeds = await deps.bodies.decode(arrow ? { ...task, kind: 'arrow' } : { ...task, kind: 'records' })
      rows = feedRows(feeds)
      const result = await d.infer(feeds, loggedRequestId(c.req.header(REQUEST_ID_HEADER), REQUEST_ID_HEADER))
      // Laid out by what answered: a hot swap meanwhile may have brought other outputs.
      const dataset = selectDataset(query, { inputs: Object.keys(feeds), outputs: Object.keys(result.outputs) })
      const { queue, pre, model, post } = result.timings
      const wantsShas = dataset.fields.some((f) => f.field === 'metadata' && f.keys?.includes('last_model'))
      const meta = {
        time: Date.now(),
        rowModels: result.rowModels,
        checkFailures: result.checkFailures,
        pipelineVersion: result.pipelineVersion,
        elapsedNs: [Math.round(queue * 1e6), Math.round((pre + model + post) * 1e6)] as const,
        modelShas: wantsShas ? await shas.of(ws, d, result.rowModels) : {},
        dataset,
      }
      const encoded = await deps.bodies.encode(
        format === 'records'
          ? { kind: 'records', feeds, outputs: result.outputs, meta }
          : { kind: 'arrow', feeds, outputs: result.outputs, meta: { ...meta, format } },
      )
      metrics.request(labels, { code: 200, rows, started, result })
      // Awaited here: a large answer is compressed while its request still holds its admission.
      return await answer(c, encoded, deps.bodies.options.largeBytes)
    } catch (e) {
      metrics.request(labels, { code: deps.statusOf(e), rows, started })
      throw e
    } finally {
      body?.release()
    }
  })

  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/pipelines/{name}/deployment',
      summary: 'Deployment status',
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the deployment', json: deploymentStatusSchema }, 404: 'not deployed' },
    },
    (c) => {
      const { ws, name } = c.req.param() as { ws: string; name: string }
      return c.json(manager.require(ws, name).status())
    },
  )
}
