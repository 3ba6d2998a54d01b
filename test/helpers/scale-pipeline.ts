/**
 * A one-input pipeline `scale` (y = x · factor) and requests to it on connections of their own, for
 * the suites that run several server processes: a new connection may reach another process.
 */
import { request } from 'node:http'
import { GraphBuilder } from '../../src/onnx/builder.js'

/** y = x · factor, for one float input of width 1. */
export function scaler(factor: number): Uint8Array {
  const g = new GraphBuilder(`times${factor}`)
  const x = g.input('x', 'float32', ['N', 1])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [factor])]), 'float32', ['N', 1], 'y')
  return g.toModel()
}

/** One inference on a connection of its own (the primary hands each new connection to the next worker). */
export function infer(url: string, x: number): Promise<{ status: number; y?: number }> {
  const body = JSON.stringify([{ x: [x] }])
  return new Promise((resolve) => {
    const req = request(
      `${url}/v1/workspaces/default/pipelines/scale/infer?dataset.flatten=true`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json; format=pandas-records', 'content-length': body.length },
      },
      (res) => {
        let text = ''
        res.on('data', (b) => {
          text += b
        })
        res.on('end', () => {
          const status = res.statusCode ?? 0
          resolve(
            status === 200 ? { status, y: (JSON.parse(text) as { 'out.y': number[] }[])[0]?.['out.y'][0] } : { status },
          )
        })
      },
    )
    req.on('error', () => resolve({ status: 0 }))
    req.setTimeout(30_000, () => req.destroy()) // a connection that hangs counts as failed
    req.end(body)
  })
}

/** `lanes` requests at a time to `url`, each answer kept with its x, until stopped. */
export function steadyLoad(url: string, lanes: number) {
  let running = true
  const results: { status: number; y?: number; x: number }[] = []
  const done = Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; running; i++) {
        const x = lane * 1000 + i + 1
        results.push({ ...(await infer(url, x)), x })
      }
    }),
  )
  return {
    results,
    async stop() {
      running = false
      await done
      return results
    },
  }
}
