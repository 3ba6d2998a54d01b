/** `lastmile serve`: the HTTP server, with a copy-pastable way to try it, and graceful shutdown. */
import type { Config } from '../config.js'
import { JSON_TYPE, RECORDS_TYPE } from '../formats/media-types.js'
import { createLogger } from '../logger.js'
import { DEMO_ASSAY, DEMO_PIPELINE, DEMO_ROW } from '../registry/demo.js'
import { runPrimary, thisWorker, workerCount, workerReady } from '../server/cluster.js'
import { type RunningServer, startServer } from '../server/serve.js'

export async function runServe(config: Config): Promise<number> {
  const log = createLogger(config.logLevel)
  const count = workerCount(config.server.workers)
  const worker = thisWorker()
  if (count > 1 && !worker) return runPrimary(config, count, log)
  const server = await startServer(config, { log, ...(worker ? { worker } : {}) })
  if (worker) workerReady()
  // One banner: the first worker's (not again when it is started anew).
  if (!worker || (worker.index === 0 && !worker.restarted)) await banner(server, config, count)
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info('shutting down', { signal })
      server.close().then(resolve, (e) => {
        log.error('shutdown failed', { error: String(e) })
        resolve()
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    if (worker) process.once('disconnect', () => stop('primary gone'))
  })
  // The channel to the primary would keep this process alive: what it serves is closed, let go.
  if (worker && process.connected) process.disconnect()
  return 0
}

/** What serves where, and how to try it, on stdout. */
async function banner(server: RunningServer, config: Config, workers: number): Promise<void> {
  const lines = [
    `lastmile serving on ${server.url}  (data: ${config.dataDir}${workers > 1 ? `; ${workers} worker processes` : ''})`,
    server.deps.console.has('/')
      ? `  console: ${server.url}/  (open it in a browser${server.deps.authRequired ? '; sign in with an API key' : ''})`
      : '  console: not built (npm run build); the API is served as usual',
  ]
  for (const d of server.deps.manager.list()) {
    const s = d.status()
    const inputs = d.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(',')}]`).join(', ')
    lines.push(
      `  pipeline ${s.workspace}/${s.pipeline} v${s.pipeline_version}: model ${s.model} on ${s.backend}; inputs ${inputs}`,
    )
  }
  if (server.deps.manager.get('default', DEMO_PIPELINE)) {
    const row = JSON.stringify(DEMO_ROW)
    lines.push(
      '',
      'Try it:',
      `  curl -s ${server.url}/v2/models/${DEMO_PIPELINE}/infer -H 'content-type: ${JSON_TYPE}' \\`,
      `    -d '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":${row}}]}'`,
      `  curl -s ${server.url}/v1/workspaces/default/pipelines/${DEMO_PIPELINE}/infer \\`,
      `    -H 'content-type: ${RECORDS_TYPE}' -d '[{"x":${row}}]'`,
      `  curl -s ${server.url}/metrics`,
    )
    const assay = (await server.deps.assays.list('default')).find((a) => a.name === DEMO_ASSAY)
    if (assay) {
      lines.push(
        '',
        `Drift: assay "${DEMO_ASSAY}" scores in.x[0] every minute against a standard normal; after traffic, open`,
        `  ${server.url}/v1/workspaces/default/assays/${assay.id}/chart.svg  (and ?kind=bins)`,
      )
    }
    lines.push(
      '',
      'Objectives: 99% answered within 50 ms, 99.9% without a 5xx, over 30 days; attainment and error budget at',
      `  ${server.url}/v1/workspaces/default/pipelines/${DEMO_PIPELINE}/slo  (and /slo/chart.svg, /slo/rules)`,
    )
  }
  lines.push('', 'Ctrl-C stops the server (queued requests are answered first).')
  process.stdout.write(`${lines.join('\n')}\n`)
}
