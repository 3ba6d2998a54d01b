/**
 * A local HTTP server standing in for a webhook's receiver: it keeps every JSON body POSTed to it,
 * in order, and answers 204. Tests that send to it must let loopback through the outbound policy
 * (`outbound: { allowLocal: true }`).
 */
import { createServer } from 'node:http'

export interface WebhookReceiver {
  /** The URL to give as a webhook (`path` on the receiver's port). */
  url: string
  /** Every body received so far, parsed. */
  received: Array<Record<string, unknown>>
  close(): Promise<void>
}

/** Start a receiver on a free loopback port. */
export async function startWebhookReceiver(path: string): Promise<WebhookReceiver> {
  const received: Array<Record<string, unknown>> = []
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}${path}`,
    received,
    close: async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}
