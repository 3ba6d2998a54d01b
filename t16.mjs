import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import autocannon from 'autocannon'
import { fork } from 'node:child_process'
if (process.argv[2] === 'child') {
  const app = new Hono()
  app.get('/hello', (c) => c.text('hello'))
  app.post('/echo', async (c) => { const b = JSON.parse(await c.req.text()); return c.json({ n: b.inputs.length }) })
  app.post('/delay', async (c) => { const b = JSON.parse(await c.req.text()); await new Promise(r => setImmediate(r)); return c.json({ n: b.inputs.length }) })
  app.post('/timer', async (c) => { const b = JSON.parse(await c.req.text()); await new Promise(r => setTimeout(r, 0)); return c.json({ n: b.inputs.length }) })
  serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (i) => process.send(i.port))
} else {
  const child = fork(new URL(import.meta.url).pathname, ['child'])
  const port = await new Promise(r => child.on('message', r))
  const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i / 10) }] })
  for (const [path, method] of [['/hello', 'GET'], ['/echo', 'POST'], ['/delay', 'POST'], ['/timer', 'POST']]) {
    const r = await autocannon({ url: `http://127.0.0.1:${port}${path}`, connections: 32, duration: 3, method, ...(method === 'POST' ? { body, headers: { 'content-type': 'application/json' } } : {}) })
    console.log(path, Math.round(r.requests.average), 'req/s p50', r.latency.p50, 'p99', r.latency.p99)
  }
  child.kill()
}
