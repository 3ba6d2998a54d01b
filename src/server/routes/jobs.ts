/**
 * Batch scoring job routes: upload a file to score (streamed to disk), follow its progress,
 * cancel it, download the result in any format.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { ForbiddenError, UnsupportedMediaTypeError } from '../../errors.js'
import { BYTES_TYPE } from '../../formats/media-types.js'
import {
  contentTypeFor,
  extensionFor,
  formatFromContentType,
  JOB_FORMATS,
  JOB_MEDIA_TYPES,
} from '../../jobs/io/index.js'
import { tooLarge } from '../../jobs/upload.js'
import { authenticate, authorize, permits } from '../../registry/keys.js'
import type { ApiKeyRecord, JobRecord, Role } from '../../store/types.js'
import { jobSchema } from '../../wire/jobs.js'
import { contentType } from '../body.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const format = z.enum(JOB_FORMATS)

const createQuery = z.object({
  format: format.optional().describe("the file's format, when its Content-Type does not say"),
  features: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean),
    )
    .optional()
    .describe('columns that form the [N, F] input, comma-separated (a,b,c)'),
  max_error_share: z.coerce
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe('share of rows that may fail (0..1) before the job fails'),
})

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
        'Score a file through a deployed pipeline as a job: the body is the file (CSV, JSONL, Arrow, Parquet; its format by Content-Type or ?format=)',
      tag,
      access: 'viewer',
      body: { raw: [...JOB_MEDIA_TYPES, BYTES_TYPE] },
      query: createQuery,
      responses: {
        202: { description: 'the job, accepted (Location: its URL)', json: jobSchema },
        400: 'bad file or options',
        404: 'not deployed',
        413: 'too large',
        415: 'format',
      },
    },
    async (c, { query }) => {
      const { type } = contentType(c)
      const format = query.format ?? formatFromContentType(type)
      if (!format) {
        throw new UnsupportedMediaTypeError(
          `cannot tell the file's format from Content-Type '${type}': send one of ${JOB_MEDIA_TYPES.join(', ')}, or add ?format=${JOB_FORMATS.join('|')}`,
        )
      }
      const { features, max_error_share: share } = query
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
      responses: { 200: { description: 'the jobs', json: z.array(jobSchema) } },
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
      responses: { 200: { description: 'the job', json: jobSchema }, 404: 'none' },
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
      responses: {
        200: { description: 'cancelled: the job', json: jobSchema },
        204: 'deleted',
        403: 'not the creator nor a deployer',
        404: 'none',
      },
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
      summary: 'The result: the input columns plus out.* columns, in input order',
      tag,
      access: 'key',
      query: z.object({ format: format.optional().describe("the result's format; the input's by default") }),
      responses: {
        200: { description: 'the result file', media: JOB_FORMATS.map(contentTypeFor) },
        404: 'none',
        409: 'not succeeded',
      },
    },
    async (c, { query }) => {
      const { job } = await jobFor(c, 'viewer')
      const { format, body } = await jobs.result(job.id, query.format)
      c.header('Content-Type', contentTypeFor(format))
      c.header('Content-Disposition', `attachment; filename="${job.id}${extensionFor(format)}"`)
      return c.body(Readable.toWeb(Readable.from(body)) as unknown as ReadableStream<Uint8Array>)
    },
  )
}
