/**
 * Batch scoring job routes: upload a file to score (streamed to disk), follow its progress,
 * cancel it, download the result in any format.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { Context, Hono } from 'hono'
import { ForbiddenError, InvalidRequestError, UnsupportedMediaTypeError } from '../../errors.js'
import { formatFromContentType, type JobFormat } from '../../jobs/io/index.js'
import { tooLarge } from '../../jobs/upload.js'
import { authenticate, authorize, permits } from '../../registry/keys.js'
import type { ApiKeyRecord, JobRecord, Role } from '../../store/types.js'
import { contentType } from '../body.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const FORMATS: JobFormat[] = ['csv', 'jsonl', 'arrow', 'parquet']
const MEDIA: Record<JobFormat, string> = {
  csv: 'text/csv',
  jsonl: 'application/x-ndjson',
  arrow: 'application/vnd.apache.arrow.stream',
  parquet: 'application/vnd.apache.parquet',
}

function formatParam(v: string | undefined): JobFormat | undefined {
  if (v === undefined || v === '') return undefined
  if (!(FORMATS as string[]).includes(v))
    throw new InvalidRequestError(`format must be one of ${FORMATS.join(', ')}, got '${v}'`)
  return v as JobFormat
}

export function jobRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { jobs } = deps
  const tag = 'jobs'
  const param = (c: Context, name: string) => c.req.param(name) as string

  /** The caller's key, when keys are required. */
  const keyOf = async (c: Context): Promise<ApiKeyRecord | undefined> =>
    deps.authRequired ? authenticate(deps.store, c.req.header('authorization')) : undefined

  /** The job, after checking the caller's key may act on its workspace (the path has no {ws}). */
  const jobFor = async (c: Context, role: Role): Promise<{ job: JobRecord; key: ApiKeyRecord | undefined }> => {
    const job = await jobs.get(param(c, 'id'))
    const key = await keyOf(c)
    if (key) authorize(key, job.workspace, role)
    return { job, key }
  }

  routes.add(
    app,
    {
      method: 'post',
      path: '/v1/workspaces/{ws}/pipelines/{name}/jobs',
      summary:
        'Score a file through a deployed pipeline as a job: the body is the file (CSV, JSONL, Arrow, Parquet; by Content-Type or ?format=); ?features=a,b,c forms a [N, F] input from columns; ?max_error_share=',
      tag,
      access: 'viewer',
      body: { raw: Object.values(MEDIA) },
      responses: {
        202: 'job accepted',
        400: 'bad file or options',
        404: 'not deployed',
        413: 'too large',
        415: 'format',
      },
    },
    async (c) => {
      const q = c.req.query()
      const { type } = contentType(c)
      const format = formatParam(q.format) ?? formatFromContentType(type)
      if (!format) {
        throw new UnsupportedMediaTypeError(
          `cannot tell the file's format from Content-Type '${type}': send text/csv, application/x-ndjson, application/vnd.apache.arrow.file or .stream, application/vnd.apache.parquet, or add ?format=${FORMATS.join('|')}`,
        )
      }
      const share = q.max_error_share === undefined ? undefined : Number(q.max_error_share)
      if (share !== undefined && !(share >= 0 && share <= 1))
        throw new InvalidRequestError(`max_error_share must be a number in [0, 1], got '${q.max_error_share}'`)
      const features = q.features
        ?.split(',')
        .map((f) => f.trim())
        .filter(Boolean)
      const key = await keyOf(c)
      const limit = jobs.uploadLimit(key?.role)
      // A declared size past the sender's limit is refused before a byte of the body is stored.
      if (Number(c.req.header('content-length') ?? 0) > limit.bytes) throw tooLarge(limit, key?.role)
      const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
      const stream = (incoming ?? c.req.raw.body ?? []) as AsyncIterable<Uint8Array>
      await deps.registry.requireWorkspace(param(c, 'ws'))
      const job = await jobs.create(
        param(c, 'ws'),
        param(c, 'name'),
        { stream },
        {
          format,
          ...(features?.length ? { features } : {}),
          ...(share !== undefined ? { maxErrorShare: share } : {}),
          ...(key ? { key: { id: key.id, role: key.role } } : {}),
        },
      )
      c.header('Location', `/v1/jobs/${job.id}`)
      return c.json(jobs.view(job), 202)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/jobs',
      summary: "The workspace's jobs, newest first",
      tag,
      access: 'viewer',
      responses: { 200: 'jobs' },
    },
    async (c) => c.json((await jobs.list(param(c, 'ws'))).map((j) => jobs.view(j))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/jobs/{id}',
      summary: 'Status and progress: rows done and total, rows/s, ETA, errors',
      tag,
      access: 'key',
      responses: { 200: 'job', 404: 'none' },
    },
    async (c) => c.json(jobs.view((await jobFor(c, 'viewer')).job)),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: '/v1/jobs/{id}',
      summary:
        'Cancel a queued or running job; delete a finished one and its files (the key that created it, or a deployer or admin of its workspace)',
      tag,
      access: 'key',
      responses: { 200: 'cancelled', 204: 'deleted', 403: 'not the creator nor a deployer', 404: 'none' },
    },
    async (c) => {
      const { job, key } = await jobFor(c, 'viewer')
      if (key && key.id !== job.createdBy && !permits(key, job.workspace, 'deployer')) {
        throw new ForbiddenError(
          `this key (${key.role} in '${key.workspace}') cannot cancel or delete job '${job.id}': only the key that created it, or a deployer or admin of workspace '${job.workspace}', can`,
        )
      }
      if ((await jobs.cancelOrDelete(job.id)) === 'deleted') return c.body(null, 204)
      return c.json(jobs.view(await jobs.get(job.id)))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/jobs/{id}/result',
      summary:
        'The input columns plus out.* columns, in input order: ?format=csv|jsonl|arrow|parquet (default: the input format)',
      tag,
      access: 'key',
      responses: { 200: 'the result file', 404: 'none', 409: 'not succeeded' },
    },
    async (c) => {
      const { job } = await jobFor(c, 'viewer')
      const { format, body } = await jobs.result(job.id, formatParam(c.req.query('format')))
      c.header('Content-Type', MEDIA[format])
      c.header('Content-Disposition', `attachment; filename="${job.id}.${format === 'arrow' ? 'arrows' : format}"`)
      return c.body(Readable.toWeb(Readable.from(body)) as unknown as ReadableStream<Uint8Array>)
    },
  )
}
