/**
 * Open Inference Protocol v2 routes for the `default` workspace's deployed pipelines, each under
 * its own name: health, server and model metadata, model readiness and inference (JSON, or the
 * binary tensor data extension).
 */
import type { Context, Hono } from 'hono'
import { NotFoundError } from '../../errors.js'
import { classifyOutputs, outputLabels } from '../../formats/classification.js'
import { BYTES_TYPE, JSON_TYPE } from '../../formats/media-types.js'
import { answerOptions, checkRequestedOutputs, oipTensorMetadata } from '../../formats/oip.js'
import { loggedRequestId } from '../../logs/record.js'
import { compileStages, parseSteps } from '../../pipeline/steps.js'
import type { Deployment } from '../../serving/deployment.js'
import { VERSION } from '../../version.js'
import {
  inferResponseSchema,
  liveSchema,
  modelMetadataSchema,
  modelReadySchema,
  readySchema,
  serverMetadataSchema,
} from '../../wire/oip.js'
import { type AdmittedBody, answer, inferenceBody } from '../body.js'
import { type ServerDeps, servingDeployment } from '../deps.js'
import { feedRows } from '../metrics.js'
import type { RouteTable } from '../route-table.js'

const WORKSPACE = 'default'

/**
 * Triton's platform name for ONNX Runtime models (`kOnnxRuntimeOnnxPlatform`): what Triton answers
 * for the same model, so tools written against Triton's metadata recognise it. The spec's list of
 * platforms names `onnx_onnxv1` instead.
 */
const PLATFORM = 'onnxruntime_onnx'

/** The extensions implemented, by Triton's names (advertised in server metadata). */
const EXTENSIONS = ['classification', 'binary_tensor_data']

/** Each deployment's class names by output (its post steps' labels), worked out once. */
const labelsByDeployment = new WeakMap<Deployment, Map<string, readonly string[]>>()
function classLabels(d: Deployment): Map<string, readonly string[]> {
  let labels = labelsByDeployment.get(d)
  if (!labels) {
    labels = outputLabels(compileStages(parseSteps(d.spec.steps)), d.outputs)
    labelsByDeployment.set(d, labels)
  }
  return labels
}

export function v2Routes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { manager, metrics } = deps

  const deployment = (c: Context): Deployment => {
    const d = servingDeployment(deps, WORKSPACE, c.req.param('name') as string)
    const v = c.req.param('version')
    if (v !== undefined && v !== String(d.spec.pipelineVersion)) {
      throw new NotFoundError(`version ${v} of '${d.name}' is not deployed (deployed: ${d.spec.pipelineVersion})`)
    }
    return d
  }

  // Every route answers errors as the spec's `{"error": "<message>"}` (tritonclient, KServe's client).
  const tag = 'Open Inference Protocol v2'
  const errorStyle = 'oip'
  routes.add(
    app,
    {
      method: 'get',
      path: '/v2/health/live',
      summary: 'Liveness',
      tag,
      errorStyle,
      access: 'public',
      responses: { 200: { description: 'alive', json: liveSchema } },
    },
    (c) => c.json({ live: true }),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v2/health/ready',
      summary: 'Readiness of every deployment',
      tag,
      errorStyle,
      access: 'public',
      responses: {
        200: { description: 'ready', json: readySchema },
        503: { description: 'not ready: a deployment drains, or the server shuts down', json: readySchema },
      },
    },
    (c) => {
      const ready = manager.list().every((d) => d.state === 'ready') && !deps.shuttingDown()
      return c.json({ ready }, ready ? 200 : 503)
    },
  )
  // The spec's YAML spells the path `/v2/`, its prose `/v2`: both answer.
  for (const path of ['/v2', '/v2/']) {
    routes.add(
      app,
      {
        method: 'get',
        path,
        summary: 'Server metadata',
        tag,
        errorStyle,
        access: 'viewer',
        responses: { 200: { description: 'name, version, extensions', json: serverMetadataSchema } },
      },
      (c) => c.json({ name: 'lastmile', version: VERSION, extensions: EXTENSIONS }),
    )
  }

  const metadata = (c: Context) => {
    const d = deployment(c)
    return c.json({
      name: d.name,
      versions: [String(d.spec.pipelineVersion)],
      platform: PLATFORM,
      inputs: d.inputs.map(oipTensorMetadata),
      outputs: d.outputs.map(oipTensorMetadata),
    })
  }
  const ready = (c: Context) => {
    const d = deployment(c)
    const ok = d.state === 'ready'
    return c.json({ name: d.name, ready: ok }, ok ? 200 : 503)
  }
  const infer = async (c: Context) => {
    const labels = { workspace: WORKSPACE, pipeline: '', protocol: 'oip' }
    const started = performance.now()
    let rows = 0
    let body: AdmittedBody | undefined
    try {
      const d = deployment(c)
      labels.pipeline = d.name // only deployed names become label values
      body = await inferenceBody(c, deps)
      const headerLength = c.req.header('inference-header-content-length')
      const request = await deps.bodies.decode({
        kind: 'oip',
        bytes: body.bytes,
        ...(headerLength === undefined ? {} : { headerLength }),
        specs: d.inputs,
        limits: { maxTensorBytes: deps.tensorLimitBytes },
      })
      rows = feedRows(request.feeds)
      checkRequestedOutputs(
        request.outputs,
        d.outputs.map((o) => o.name),
      )
      const result = await d.infer(request.feeds, loggedRequestId(request.id, '"id"'))
      const encoded = await deps.bodies.encode({
        kind: 'oip',
        model: { name: d.name, version: String(result.pipelineVersion) },
        request: answerOptions(request),
        // Outputs asked for with `classification` are answered as their best classes (BYTES).
        outputs: classifyOutputs(result.outputs, request.outputs, (name) => classLabels(d).get(name)),
        rows: { rowModels: result.rowModels, checkFailures: result.checkFailures },
      })
      metrics.request(labels, { code: 200, rows, started, result })
      // Awaited here: a large answer is compressed while its request still holds its admission.
      return await answer(c, encoded, deps.bodies.options.largeBytes)
    } catch (e) {
      metrics.request(labels, { code: deps.statusOf(e), rows, started })
      throw e
    } finally {
      body?.release()
    }
  }

  for (const base of ['/v2/models/{name}', '/v2/models/{name}/versions/{version}']) {
    routes.add(
      app,
      {
        method: 'get',
        path: base,
        summary: 'Pipeline metadata (inputs, outputs)',
        tag,
        errorStyle,
        access: 'viewer',
        responses: { 200: { description: 'inputs and outputs', json: modelMetadataSchema }, 404: 'not deployed' },
      },
      metadata,
    )
    routes.add(
      app,
      {
        method: 'get',
        path: `${base}/ready`,
        summary: 'Pipeline readiness',
        tag,
        errorStyle,
        access: 'viewer',
        responses: {
          200: { description: 'ready', json: modelReadySchema },
          404: 'not deployed',
          503: { description: 'not ready', json: modelReadySchema },
        },
      },
      ready,
    )
    routes.add(
      app,
      {
        method: 'post',
        path: `${base}/infer`,
        summary: 'Inference (JSON, or the binary tensor data extension with Inference-Header-Content-Length)',
        tag,
        errorStyle,
        access: 'viewer',
        audit: false, // answers, changes nothing
        body: { raw: [JSON_TYPE, BYTES_TYPE] },
        responses: {
          200: {
            description:
              'the outputs: JSON, or with the binary extension a JSON header (Inference-Header-Content-Length bytes) then the tensors',
            json: inferResponseSchema,
            media: [BYTES_TYPE],
          },
          400: 'bad request or input',
          404: 'not deployed',
          408: 'a large body that arrived too slowly',
          413: 'body too large',
          429: 'queue full',
          503: 'not ready',
          504: 'timeout',
        },
      },
      infer,
    )
  }
}
