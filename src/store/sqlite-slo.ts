/** Objective accounting in the SQLite store: one row per series and minute, and the alerts firing. */
import type Database from 'better-sqlite3'
import {
  sloAlertFrom as alertFrom,
  sloArmFrom as armFrom,
  sloStepFrom as stepFrom,
  sloTallyFrom as tallyFrom,
} from './table-rows.js'
import type { SloAlertRecord, SloBucket, SloSeriesKey, SloStore } from './types.js'

const SERIES = 'workspace = ? AND pipeline = ? AND objective = ? AND arm = ?'
const NAMED_SERIES =
  'workspace = @workspace AND pipeline = @pipeline AND objective = @objective AND arm = @arm AND minute >= @from AND minute < @to'
// A bucket's events: its counts, or, with a floor, one time slice that is an event when its total
// reaches the floor and a good one when its good count does too.
const EVENTS = 'CASE WHEN @floor IS NULL THEN total ELSE total >= @floor END'
const GOOD = 'CASE WHEN @floor IS NULL THEN good ELSE total >= @floor AND good >= @floor END'

const statements = (db: Database.Database) => ({
  add: db.prepare(
    `INSERT INTO slo_buckets (workspace, pipeline, objective, arm, minute, good, total) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET good = good + excluded.good, total = total + excluded.total`,
  ),
  tally: db.prepare(
    `SELECT COALESCE(SUM(${GOOD}), 0) AS good, COALESCE(SUM(${EVENTS}), 0) AS total FROM slo_buckets
     WHERE ${NAMED_SERIES}`,
  ),
  history: db.prepare(
    // better-sqlite3 binds every JS number as REAL: the step's index is cast to an integer.
    `SELECT @from + CAST((minute - @from) / @step AS INTEGER) * @step AS start, SUM(${GOOD}) AS good, SUM(${EVENTS}) AS total
     FROM slo_buckets WHERE ${NAMED_SERIES} GROUP BY start ORDER BY start`,
  ),
  arms: db.prepare(
    'SELECT DISTINCT arm FROM slo_buckets WHERE workspace = ? AND pipeline = ? AND objective = ? ORDER BY arm',
  ),
  prune: db.prepare('DELETE FROM slo_buckets WHERE workspace = ? AND pipeline = ? AND minute < ?'),
  alerts: db.prepare('SELECT * FROM slo_alerts ORDER BY workspace, pipeline, objective, arm, severity'),
  alertsOf: db.prepare(
    'SELECT * FROM slo_alerts WHERE workspace = ? AND pipeline = ? ORDER BY objective, arm, severity',
  ),
  putAlert: db.prepare(
    `INSERT OR REPLACE INTO slo_alerts (workspace, pipeline, objective, arm, severity, since, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ),
  clearAlert: db.prepare(`DELETE FROM slo_alerts WHERE ${SERIES} AND severity = ?`),
  forgetBuckets: db.prepare('DELETE FROM slo_buckets WHERE workspace = ? AND pipeline = ?'),
  forgetAlerts: db.prepare('DELETE FROM slo_alerts WHERE workspace = ? AND pipeline = ?'),
})

const keyOf = (k: SloSeriesKey) => [k.workspace, k.pipeline, k.objective, k.arm] as const
const seriesOf = (k: SloSeriesKey) => ({
  workspace: k.workspace,
  pipeline: k.pipeline,
  objective: k.objective,
  arm: k.arm,
})

/** SloStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteSlo implements SloStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db)
  }

  async add(buckets: readonly SloBucket[]): Promise<void> {
    this.db.transaction(() => {
      for (const b of buckets) this.sql.add.run(...keyOf(b), b.minute, b.good, b.total)
    })()
  }

  async tally(key: SloSeriesKey, from: number, to: number, floor?: number) {
    return tallyFrom(this.sql.tally.get({ ...seriesOf(key), from, to, floor: floor ?? null }))
  }

  async history(key: SloSeriesKey, from: number, to: number, stepMs: number, floor?: number) {
    return this.sql.history.all({ ...seriesOf(key), from, to, step: stepMs, floor: floor ?? null }).map(stepFrom)
  }

  async arms(workspace: string, pipeline: string, objective: string): Promise<string[]> {
    return this.sql.arms.all(workspace, pipeline, objective).map((r) => armFrom(r).arm)
  }

  async prune(workspace: string, pipeline: string, before: number): Promise<number> {
    return this.sql.prune.run(workspace, pipeline, before).changes
  }

  async alerts(workspace?: string, pipeline?: string): Promise<SloAlertRecord[]> {
    const rows = workspace === undefined ? this.sql.alerts.all() : this.sql.alertsOf.all(workspace, pipeline)
    return rows.map(alertFrom)
  }

  async putAlert(a: SloAlertRecord): Promise<void> {
    this.sql.putAlert.run(...keyOf(a), a.severity, a.since, JSON.stringify(a.detail))
  }

  async clearAlert(key: SloSeriesKey, severity: string): Promise<void> {
    this.sql.clearAlert.run(...keyOf(key), severity)
  }

  async forget(workspace: string, pipeline: string): Promise<void> {
    this.db.transaction(() => {
      this.sql.forgetBuckets.run(workspace, pipeline)
      this.sql.forgetAlerts.run(workspace, pipeline)
    })()
  }
}
