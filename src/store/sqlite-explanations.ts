/** Explanation jobs in the SQLite store: the request (to run again after a restart) and the finished report. */
import type Database from 'better-sqlite3'
import { explanationFrom, explanationInsert, insertSql } from './table-rows.js'
import type { ExplanationRecord, ExplanationStore } from './types.js'

const statements = (db: Database.Database) => ({
  insert: db.prepare(insertSql(explanationInsert, 'sqlite')),
  finish: db.prepare(
    'UPDATE explanations SET status = ?, error = ?, report = ?, summary = ?, finished_at = ? WHERE id = ?',
  ),
  one: db.prepare('SELECT * FROM explanations WHERE id = ?'),
  addAttempts: db.prepare(
    "UPDATE explanations SET attempts = MAX(0, attempts + ?) WHERE id = ? AND status = 'running'",
  ),
  running: db.prepare("SELECT * FROM explanations WHERE status = 'running' ORDER BY created_at"),
  prune: db.prepare(
    `DELETE FROM explanations WHERE status != 'running' AND id NOT IN
       (SELECT id FROM explanations ORDER BY created_at DESC LIMIT ?)`,
  ),
})

/** ExplanationStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteExplanations implements ExplanationStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async add(r: ExplanationRecord): Promise<void> {
    this.sql.insert.run(...explanationInsert.values(r))
  }

  async finish(
    id: string,
    end: Pick<ExplanationRecord, 'status' | 'error' | 'report' | 'summary' | 'finishedAt'>,
  ): Promise<void> {
    this.sql.finish.run(
      end.status,
      end.error,
      end.report === null ? null : JSON.stringify(end.report),
      end.summary,
      end.finishedAt,
      id,
    )
  }

  async get(id: string): Promise<ExplanationRecord | undefined> {
    const r = this.sql.one.get(id)
    return r === undefined ? undefined : explanationFrom(r)
  }

  async addAttempts(id: string, delta: number): Promise<void> {
    this.sql.addAttempts.run(delta, id)
  }

  async running(): Promise<ExplanationRecord[]> {
    return this.sql.running.all().map(explanationFrom)
  }

  async prune(keep: number): Promise<void> {
    this.sql.prune.run(keep)
  }
}
