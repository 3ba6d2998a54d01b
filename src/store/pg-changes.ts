/**
 * The change feed on PostgreSQL. `publish` stores the topic with the feed's next revision (one
 * counter row, locked until commit, so revisions are committed in order) and sends
 * `NOTIFY lastmile_changes, '<topic>'` in the same transaction. While someone listens, one client
 * of its own (not the pool's) LISTENs; each notification makes the feed read the topics changed
 * since its last read, and a slow timed read catches what a lost notification did not bring. A
 * topic is heard once, by its revision, whichever way it arrives. The listening client that drops
 * is connected again, then the feed reads what it missed.
 */
import type pg from 'pg'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { FeedPoller } from './change-feed.js'
import { dedicatedClient } from './pg-pool.js'
import { changeFrom, revisionFrom } from './table-rows.js'
import type { ChangeFeed } from './types.js'

const CHANNEL = 'lastmile_changes'
/** The safety net's interval: what a lost notification costs at most. */
const SAFETY_POLL_MS = 5000
/** The first pause before connecting again, doubled after each failure up to the last. */
const RECONNECT_MS = [1000, 30_000] as const
/** How the listening client shows in pg_stat_activity. */
export const LISTENER_NAME = 'lastmile-changes'

const PUBLISH = `WITH next AS (UPDATE change_revision SET revision = revision + 1 RETURNING revision),
  put AS (INSERT INTO changes (topic, revision) SELECT $1::text, revision FROM next
          ON CONFLICT (topic) DO UPDATE SET revision = excluded.revision RETURNING topic)
  SELECT pg_notify('${CHANNEL}', topic) FROM put`

/** The feed's latest revision (read at the store's open). */
export async function latestRevision(db: pg.Pool): Promise<number> {
  return revisionFrom((await db.query('SELECT revision FROM change_revision')).rows[0]).revision
}

/** ChangeFeed on PostgreSQL, over the pool `PgStore` opened and migrated, and a LISTEN client on `url`. */
export class PgChanges implements ChangeFeed {
  private readonly poller: FeedPoller
  private client: pg.Client | undefined
  private retry: NodeJS.Timeout | undefined
  private pauseMs: number = RECONNECT_MS[0]
  private closed = false

  constructor(
    private readonly db: pg.Pool,
    private readonly url: string,
    revision: number,
    private readonly log: Logger,
  ) {
    const since = async (after: number) =>
      (await db.query('SELECT topic, revision FROM changes WHERE revision > $1 ORDER BY revision', [after])).rows.map(
        changeFrom,
      )
    this.poller = new FeedPoller({ since }, revision, SAFETY_POLL_MS, log)
  }

  async publish(topic: string): Promise<void> {
    await this.db.query(PUBLISH, [topic])
  }

  subscribe(listener: (topic: string) => void): () => void {
    const unsubscribe = this.poller.subscribe(listener)
    this.listen()
    return () => {
      unsubscribe()
      if (!this.poller.listening) void this.unlisten()
    }
  }

  /** Stop listening and polling (the store closes). */
  async close(): Promise<void> {
    this.closed = true
    this.poller.close()
    await this.unlisten()
  }

  /** Connect the listening client, unless it is connected, connecting, or waiting to reconnect. */
  private listen(): void {
    if (this.client || this.retry || this.closed) return
    const client = dedicatedClient(this.url, LISTENER_NAME)
    this.client = client
    const lost = (e: unknown) => {
      if (this.client !== client) return // let go on purpose
      this.client = undefined
      client.end().catch(() => undefined) // it failed already: how its end goes changes nothing
      this.log.warn('change feed: the LISTEN connection failed; connecting again', {
        error: errorMessage(e),
        inMs: this.pauseMs,
      })
      this.retry = setTimeout(() => {
        this.retry = undefined
        if (this.poller.listening) this.listen()
      }, this.pauseMs)
      this.retry.unref()
      this.pauseMs = Math.min(this.pauseMs * 2, RECONNECT_MS[1])
    }
    client.on('error', lost)
    client.on('end', () => lost(new Error('the connection ended')))
    client.on('notification', (n) => {
      if (n.channel === CHANNEL) void this.poller.poll()
    })
    client
      .connect()
      .then(() => client.query(`LISTEN ${CHANNEL}`))
      .then(() => {
        this.pauseMs = RECONNECT_MS[0]
        return this.poller.poll() // what was published before the LISTEN took
      })
      .catch(lost)
  }

  private async unlisten(): Promise<void> {
    clearTimeout(this.retry)
    this.retry = undefined
    const client = this.client
    this.client = undefined
    await client?.end().catch(() => undefined) // a client that failed is ended already
  }
}
