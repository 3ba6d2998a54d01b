/**
 * The server side of bench/http and bench/bodies, run in its own process so the load generator
 * does not share its event loop: `node dist/bench/http-server.js lastmile|bodies|hello`. Prints
 * `listening <url>` when ready. `bodies` deploys `mlp` (16 features, for single rows) and `wide`
 * (4096 features, for 60 MiB bodies). `hello` with BENCH_HELLO_WORKERS=N (bench/workers) runs the
 * hello-world app in N processes on one port (node:cluster, as `lastmile serve --workers N` does).
 */
import cluster from 'node:cluster'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { loadConfig } from '../src/config.js'
import { silentLogger } from '../src/logger.js'
import { startServer } from '../src/server/serve.js'
import { singleModelSpec } from '../src/serving/deployment.js'
import { mlpClassifier } from '../test/fixtures/models.js'
import { BENCH_SLO } from './lib.js'

const kind = process.argv[2] ?? 'lastmile'
const helloWorkers = Number(process.env.BENCH_HELLO_WORKERS ?? 1)
if (kind === 'hello' && helloWorkers > 1 && cluster.isPrimary) {
  // The primary only hands out connections; it says `listening` once every worker listens.
  let up = 0
  for (let i = 0; i < helloWorkers; i++) {
    cluster.fork().on('listening', (a) => {
      if (++up === helloWorkers) process.stdout.write(`listening http://127.0.0.1:${a.port}\n`)
    })
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
  })
  let exited = 0
  cluster.on('exit', () => {
    if (++exited === helloWorkers) process.exit(0)
  })
} else if (kind === 'hello') {
  const app = new Hono()
  app.get('/hello', (c) => c.text('hello'))
  // The HTTP work of an inference request without the inference: parse the JSON body, answer JSON.
  app.post('/echo', async (c) => {
    const body = JSON.parse(await c.req.text()) as { inputs: Array<{ name: string; shape: number[]; data: number[] }> }
    const x = body.inputs[0]
    return c.json({
      model_name: 'echo',
      outputs: [{ name: 'y', datatype: 'FP32', shape: x?.shape, data: x?.data.slice(0, 3) }],
    })
  })
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
    process.stdout.write(`listening http://127.0.0.1:${info.port}\n`)
  })
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
} else {
  const config = loadConfig(process.env, {
    backend: 'cpu',
    logLevel: 'error',
    dataDir: process.argv[3] ?? '.lastmile-bench',
    server: { port: 0, demo: false },
  })
  const server = await startServer(config, { log: silentLogger })
  const model = { name: 'mlp', version: 1, bytes: mlpClassifier().bytes }
  const deploy = (pipeline: string, max_batch_size: number, max_queue_delay_ms: number) =>
    server.deps.manager.deploy(singleModelSpec({ pipeline, model, batching: { max_batch_size, max_queue_delay_ms } }))
  if (kind === 'bodies') {
    await deploy('mlp', 256, 2)
    const wide = { name: 'wide', version: 1, bytes: mlpClassifier({ features: 4096, hidden: [16] }).bytes }
    await server.deps.manager.deploy(singleModelSpec({ pipeline: 'wide', model: wide }))
  } else {
    await deploy('batched', 256, 2)
    await deploy('unbatched', 1, 0)
    await deploy('eager', 256, 0)
    await deploy('bulk', 4096, 0)
    // `eager` with service-level objectives measured on every request (bench/http's on/off pair).
    await deploy('eager_slo', 256, 0)
    await server.deps.slo.watch('default', 'eager_slo', 1, BENCH_SLO)
  }
  process.stdout.write(`listening ${server.url}\n`)
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
}
