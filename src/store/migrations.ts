/**
 * The SQLite schema's history: numbered versions, each applied once, in order, in its own
 * transaction, the count recorded in `user_version`. Append-only: a released version is never
 * edited or removed, so a data folder of any earlier release opens by running the versions it lacks
 * (test/store/migrations.test.ts holds the released ones unchanged). To change the schema, append a
 * version, then teach the aggregate's `sqlite-*.ts` file (its SQL and row schema) the new columns.
 */
import type Database from 'better-sqlite3'
import { z } from 'zod'

/** Schema versions: version n is `MIGRATIONS[n - 1]`. */
export const MIGRATIONS: readonly string[] = [
  // 1: workspaces, models, pipelines, deployments, API keys
  `CREATE TABLE workspaces (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
   CREATE TABLE models (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
     inputs TEXT NOT NULL, outputs TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (workspace, name, version), UNIQUE (workspace, name, sha256));
   CREATE TABLE pipelines (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, version INTEGER NOT NULL, steps TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (workspace, name, version));
   CREATE TABLE deployments (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL, deployed_at TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline));
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY, workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);`,
  // 2: assays and their window results
  `CREATE TABLE assays (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL, baseline BLOB NOT NULL,
     active INTEGER NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE assay_results (
     assay_id INTEGER NOT NULL REFERENCES assays(id) ON DELETE CASCADE,
     window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, score REAL NOT NULL, status TEXT NOT NULL,
     result TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (assay_id, window_start, window_end));`,
  // 3: batch jobs
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, status TEXT NOT NULL, format TEXT NOT NULL, input_path TEXT NOT NULL,
     input_bytes INTEGER NOT NULL, options TEXT NOT NULL, rows_total INTEGER, rows_done INTEGER NOT NULL,
     chunks_done INTEGER NOT NULL, error_count INTEGER NOT NULL, errors TEXT NOT NULL, error TEXT,
     created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
   CREATE INDEX jobs_by_status ON jobs (status);`,
  // 4: explanation jobs
  `CREATE TABLE explanations (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, method TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL,
     error TEXT, report TEXT, summary BLOB, created_at TEXT NOT NULL, finished_at TEXT);
   CREATE INDEX explanations_by_status ON explanations (status);`,
  // 5: attempts (starts the server did not survive) of jobs and explanations, and the key that created a job
  `ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN created_by TEXT;
   ALTER TABLE explanations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;`,
  // 6: service-level objectives: a pipeline version's objectives, good and total events per minute, alerts firing
  `ALTER TABLE pipelines ADD COLUMN slo TEXT;
   CREATE TABLE slo_buckets (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, objective TEXT NOT NULL, arm TEXT NOT NULL, minute INTEGER NOT NULL,
     good INTEGER NOT NULL, total INTEGER NOT NULL,
     PRIMARY KEY (workspace, pipeline, objective, arm, minute)) WITHOUT ROWID;
   CREATE INDEX slo_buckets_by_minute ON slo_buckets (minute);
   CREATE TABLE slo_alerts (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, objective TEXT NOT NULL, arm TEXT NOT NULL,
     severity TEXT NOT NULL, since INTEGER NOT NULL, detail TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline, objective, arm, severity));`,
  // 7: the audit trail: every change made through the API, who made it and how it ended. Not tied to
  // its workspace: the trail of a deleted workspace stays (until retention drops it).
  `CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, workspace TEXT,
     key_id TEXT, key_name TEXT, role TEXT, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL);
   CREATE INDEX audit_by_workspace ON audit (workspace, id);`,
  // 8: leases on singleton work among the processes sharing the store (expiry in ms since the epoch),
  // and the change feed: each topic with the revision it last changed at (revisions only grow).
  `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);
   CREATE TABLE changes (topic TEXT PRIMARY KEY, revision INTEGER NOT NULL);`,
  // 9: ground truth: each pipeline's outcome settings (task, output, labels, key), and the outcomes
  // clients sent, one per key (a request id and row, or a key column's value), the latest kept.
  `CREATE TABLE outcome_specs (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, config TEXT NOT NULL, updated_at TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline));
   CREATE TABLE outcomes (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, time INTEGER NOT NULL,
     PRIMARY KEY (workspace, pipeline, key)) WITHOUT ROWID;
   CREATE INDEX outcomes_by_time ON outcomes (workspace, pipeline, time);`,
  // 10: champion vs challenger: each pipeline's promotion rule, and every decision taken with its evidence
  `CREATE TABLE promotion_rules (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, config TEXT NOT NULL, updated_at TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline));
   CREATE TABLE decisions (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, time TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
   CREATE INDEX decisions_by_pipeline ON decisions (workspace, pipeline, id);`,
  // 11: measured tuning runs of a pipeline and their reports
  `CREATE TABLE optimizations (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL, request TEXT NOT NULL,
     report TEXT, error TEXT, created_at TEXT NOT NULL, finished_at TEXT);
   CREATE INDEX optimizations_by_pipeline ON optimizations (workspace, pipeline, created_at);`,
]

/** The schema version of an open database (how many migrations it has had). */
export function schemaVersion(db: Database.Database): number {
  return z
    .int()
    .min(0)
    .parse(db.pragma('user_version', { simple: true }))
}

/** Apply the versions `db` lacks, each in its own transaction. */
export function migrate(db: Database.Database): void {
  const from = schemaVersion(db)
  for (const [v, sql] of MIGRATIONS.entries()) {
    if (v < from) continue
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
