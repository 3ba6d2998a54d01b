import { buildServer } from './dist/src/server/serve.js'
import { loadConfig } from './dist/src/config.js'
import { silentLogger } from './dist/src/log.js'
import { mlpClassifier } from './dist/src/onnx/fixtures.js'
const s = await buildServer(loadConfig({}, { backend: 'cpu', dataDir: '/tmp/lmx', server: { demo: false } }), { log: silentLogger })
const model = { name: 'mlp', version: 1, bytes: mlpClassifier().bytes }
const d = await s.deps.manager.deploy({ workspace: 'default', pipeline: 'p', pipelineVersion: 1, model, batching: { max_batch_size: 1, max_queue_delay_ms: 0 } })
const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i / 10) }] })
const { tensor } = await import('./dist/src/engine/tensor.js')
const feeds = { x: tensor('float32', [1, 16], Array.from({ length: 16 }, (_, i) => i / 10)) }
async function bench(name, fn, n = 3000) { for (let i = 0; i < 300; i++) await fn(); const t0 = performance.now(); for (let i = 0; i < n; i++) await fn(); console.log(name.padEnd(30), ((performance.now() - t0) / n * 1000).toFixed(0), 'us') }
await bench('session.run', () => d.fused.session.run(feeds))
await bench('fused.run', () => d.fused.run(feeds))
await bench('deployment.infer', () => d.infer(feeds))
await bench('app.request OIP', () => s.app.request('/v2/models/p/infer', { method: 'POST', body, headers: { 'content-type': 'application/json' } }))
await bench('app.request concurrent x32', () => Promise.all(Array.from({length: 32}, () => s.app.request('/v2/models/p/infer', { method: 'POST', body, headers: { 'content-type': 'application/json' } }))), 100)
await s.shutdown()
