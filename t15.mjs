import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i / 10) }] })
async function bench(name, app, n = 5000) {
  const req = () => app.request('/x', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
  for (let i = 0; i < 500; i++) await req(); const t0 = performance.now(); for (let i = 0; i < n; i++) await req(); console.log(name.padEnd(40), ((performance.now() - t0) / n * 1000).toFixed(0), 'us')
}
let a = new Hono(); a.post('/x', (c) => c.json({ ok: 1 })); await bench('bare', a)
a = new Hono(); a.post('/x', async (c) => { await c.req.arrayBuffer(); return c.json({ ok: 1 }) }); await bench('arrayBuffer', a)
a = new Hono(); a.post('/x', async (c) => { JSON.parse(await c.req.text()); return c.json({ ok: 1 }) }); await bench('text+parse', a)
a = new Hono(); a.use('*', bodyLimit({ maxSize: 64 << 20 })); a.post('/x', async (c) => { await c.req.arrayBuffer(); return c.json({ ok: 1 }) }); await bench('bodyLimit+arrayBuffer', a)
a = new Hono(); a.use('*', bodyLimit({ maxSize: 64 << 20 })); a.post('/x', (c) => c.json({ ok: 1 })); await bench('bodyLimit, no read', a)
