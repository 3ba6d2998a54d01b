/**
 * The load side of bench/bodies, in its own process so that building and sending 60 MiB bodies
 * does not share the probe's event loop: `node dist/bench/bodies-load.js <url> <clients> <rows>
 * <width>`. Each client POSTs the same OIP JSON body back to back until SIGTERM, then the process
 * prints one JSON line: bytes of the body, and per answered request its status and milliseconds.
 */
import { Agent, request } from 'node:http'
import { mulberry32, uniform } from '../src/random.js'

const [url = '', clients = '8', rows = '1600', width = '4096'] = process.argv.slice(2)

/** An OIP JSON body of `n` rows of `w` float32 values written with 6 decimals (~9.5 bytes each). */
function body(n: number, w: number): Buffer {
  const values = uniform(mulberry32(n), n * w, -2, 2)
  const parts: string[] = []
  for (const v of values) parts.push(v.toFixed(6))
  return Buffer.from(`{"inputs":[{"name":"x","shape":[${n},${w}],"datatype":"FP32","data":[${parts.join(',')}]}]}`)
}

const bytes = body(Number(rows), Number(width))
const agent = new Agent({ keepAlive: true })
const answers: Array<{ status: number; ms: number }> = []
let stopping = false

function post(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
    })
    req.on('response', (res) => {
      res.resume() // the answer's content is not what is measured
      res.on('end', () => {
        answers.push({ status: res.statusCode ?? 0, ms: performance.now() - t0 })
        resolve()
      })
    })
    req.on('error', () => {
      answers.push({ status: 0, ms: performance.now() - t0 })
      resolve()
    })
    req.end(bytes)
  })
}

async function client(): Promise<void> {
  while (!stopping) await post()
}

process.on('SIGTERM', () => {
  stopping = true
  process.stdout.write(`${JSON.stringify({ bodyBytes: bytes.length, answers })}\n`)
  process.exit(0)
})
process.stdout.write(`ready ${bytes.length}\n`)
for (let i = 0; i < Number(clients); i++) void client()
