/** Explanation jobs in the SQLite store: the request (to run again after a restart) and the finished report. */
import type Database from 'better-sqlite3'
import type { ExplanationRecord, ExplanationStore } from './types.js'

export const EXPLANATIONS_MIGRATION = `CREATE TABLE explanations (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, method TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL,
     error TEXT, report TEXT, summary BLOB, created_at TEXT NOT NULL, finished_at TEXT);
   CREATE INDEX explanations_by_status ON explanations (status);`

/** Attempts: starts the server did not survive (poison explanation jobs are failed, not run again). */
export const EXPLANATIONS_ATTEMPTS_MIGRATION =
  'ALTER TABLE explanations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;'

type Row = Record<string, unknown>

function recordFrom(r: Row): ExplanationRecord {
  return {
    id: r.id as string,
    workspace: r.workspace as string,
    pipeline: r.pipeline as string,
    method: r.method as string,
    request: JSON.parse(r.request as string),
    status: r.status as ExplanationRecord['status'],
    error: (r.error as string | null) ?? null,
    attempts: r.attempts as number,
    report: r.report === null ? null : JSON.parse(r.report as string),
    summary: r.summary === null ? null : new Uint8Array(r.summary as Buffer),
    createdAt: r.created_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
  }
}

export class SqliteExplanations implements ExplanationStore {
  constructor(private readonly db: Database.Database) {}

  async add(r: ExplanationRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO explanations (id, workspace, pipeline, method, request, status, error, attempts, report,
           summary, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id,
        r.workspace,
        r.pipeline,
        r.method,
        JSON.stringify(r.request),
        r.status,
        r.error,
        r.attempts,
        r.report === null ? null : JSON.stringify(r.report),
        r.summary,
        r.createdAt,
        r.finishedAt,
      )
  }

  async finish(
    id: string,
    end: Pick<ExplanationRecord, 'status' | 'error' | 'report' | 'summary' | 'finishedAt'>,
  ): Promise<void> {
    this.db
      .prepare('UPDATE explanations SET status = ?, error = ?, report = ?, summary = ?, finished_at = ? WHERE id = ?')
      .run(
        end.status,
        end.error,
        end.report === null ? null : JSON.stringify(end.report),
        end.summary,
        end.finishedAt,
        id,
      )
  }

  async get(id: string): Promise<ExplanationRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM explanations WHERE id = ?').get(id) as Row | undefined
    return r ? recordFrom(r) : undefined
  }

  async addAttempts(id: string, delta: number): Promise<void> {
    this.db
      .prepare("UPDATE explanations SET attempts = MAX(0, attempts + ?) WHERE id = ? AND status = 'running'")
      .run(delta, id)
  }

  async running(): Promise<ExplanationRecord[]> {
    const rows = this.db.prepare("SELECT * FROM explanations WHERE status = 'running' ORDER BY created_at").all()
    return (rows as Row[]).map(recordFrom)
  }

  async prune(keep: number): Promise<void> {
    this.db
      .prepare(
        `DELETE FROM explanations WHERE status != 'running' AND id NOT IN
           (SELECT id FROM explanations ORDER BY created_at DESC LIMIT ?)`,
      )
      .run(keep)
  }
}
