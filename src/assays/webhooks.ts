/**
 * Alert webhooks: each POST goes through the outbound policy, in the background, retried with
 * exponential backoff when it fails in a way a retry can fix (a connection error, a timeout, a
 * non-2xx answer). A refusal by the policy and a redirect are final: logged once (with the reason
 * or the `Location`), never retried.
 */
import { errorMessage, OutboundRefusedError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OutboundPolicy } from '../outbound/policy.js'

export interface WebhookDeps {
  outbound: OutboundPolicy
  logger: Logger
  /** Attempts per delivery. */
  attempts: number
  /** First retry delay in ms; doubles per attempt. */
  baseDelayMs: number
}

export class Webhooks {
  private readonly deliveries = new Set<Promise<void>>()

  constructor(private readonly deps: WebhookDeps) {}

  /** POST `payload` (JSON) to each URL; never blocks the caller. `context` goes into log lines. */
  post(urls: readonly string[], payload: string, context: Record<string, unknown>): void {
    for (const url of urls) {
      const delivery = this.deliver(url, payload, context)
      this.deliveries.add(delivery)
      void delivery.finally(() => this.deliveries.delete(delivery))
    }
  }

  /** Resolves when every delivery in flight has succeeded or given up. */
  async idle(): Promise<void> {
    await Promise.all([...this.deliveries])
  }

  private async deliver(url: string, payload: string, context: Record<string, unknown>): Promise<void> {
    const { outbound, logger, attempts } = this.deps
    let delay = this.deps.baseDelayMs
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let error: string
      try {
        const res = await outbound.send(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: payload,
        })
        if (res.status >= 200 && res.status < 300) return
        if (res.status >= 300 && res.status < 400) {
          logger.error('webhook failed: redirects are not followed', {
            ...context,
            url,
            status: res.status,
            location: res.location ?? null,
          })
          return
        }
        error = `HTTP ${res.status}`
      } catch (e) {
        if (e instanceof OutboundRefusedError) {
          logger.error('webhook refused by the outbound policy', { ...context, url, reason: e.reason })
          return
        }
        error = errorMessage(e)
      }
      if (attempt === attempts) {
        logger.error('webhook failed', { ...context, url, attempts: attempt, error })
        return
      }
      await new Promise((r) => setTimeout(r, delay))
      delay *= 2
    }
  }
}
