/**
 * The change feed on SQLite: `publish` stores the topic with the feed's next revision (writers take
 * turns on the file, so revisions are committed in order), and subscribers poll the table every
 * 200 ms. The processes sharing the file on one host hear each other's changes this way.
 */
import type Database from 'better-sqlite3'
import type { Logger } from '../logger.js'
import { FeedPoller } from './change-feed.js'
import { changeFrom, revisionFrom } from './table-rows.js'
import type { ChangeFeed } from './types.js'

/** How often subscribers read the table. */
const POLL_MS = 200

const statements = (db: Database.Database) => ({
  publish: db.prepare(
    `INSERT INTO changes (topic, revision) VALUES (?, (SELECT COALESCE(MAX(revision), 0) + 1 FROM changes))
     ON CONFLICT (topic) DO UPDATE SET revision = excluded.revision`,
  ),
  latest: db.prepare('SELECT COALESCE(MAX(revision), 0) AS revision FROM changes'),
  since: db.prepare('SELECT topic, revision FROM changes WHERE revision > ? ORDER BY revision'),
})

/** ChangeFeed on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteChanges implements ChangeFeed {
  private readonly sql: ReturnType<typeof statements>
  private readonly poller: FeedPoller

  constructor(db: Database.Database, log: Logger) {
    this.sql = statements(db)
    const since = async (revision: number) => this.sql.since.all(revision).map(changeFrom)
    this.poller = new FeedPoller({ since }, revisionFrom(this.sql.latest.get()).revision, POLL_MS, log)
  }

  async publish(topic: string): Promise<void> {
    this.sql.publish.run(topic)
  }

  subscribe(listener: (topic: string) => void): () => void {
    return this.poller.subscribe(listener)
  }

  /** Stop the polls (the store closes). */
  close(): void {
    this.poller.close()
  }
}
