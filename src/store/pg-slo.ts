/** Objective accounting in the PostgreSQL store: one row per series and minute, and the alerts firing. */
import type pg from 'pg'
import { transaction } from './pg-pool.js'
import { sloAlertFrom, sloArmFrom, sloStepFrom, sloTallyFrom } from './table-rows.js'
import type { SloAlertRecord, SloBucket, SloSeriesKey, SloStore } from './types.js'

// $1..$4 the series, $5 and $6 the minutes [from, to), $7 the floor or NULL.
const SERIES = 'workspace = $1 AND pipeline = $2 AND objective = $3 AND arm = $4'
const RANGE = `${SERIES} AND minute >= $5 AND minute < $6`
// A bucket's events: its counts, or, with a floor, one time slice that is an event when its total
// reaches the floor and a good one when its good count does too.
const EVENTS = 'CASE WHEN $7::bigint IS NULL THEN total WHEN total >= $7 THEN 1 ELSE 0 END'
const GOOD = 'CASE WHEN $7::bigint IS NULL THEN good WHEN total >= $7 AND good >= $7 THEN 1 ELSE 0 END'

const keyOf = (k: SloSeriesKey) => [k.workspace, k.pipeline, k.objective, k.arm]
const order = (a: SloBucket, b: SloBucket) => {
  for (const [x, y] of [
    [a.workspace, b.workspace],
    [a.pipeline, b.pipeline],
    [a.objective, b.objective],
    [a.arm, b.arm],
  ] as const) {
    if (x !== y) return x < y ? -1 : 1
  }
  return a.minute - b.minute
}

/** SloStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgSlo implements SloStore {
  constructor(private readonly db: pg.Pool) {}

  async add(buckets: readonly SloBucket[]): Promise<void> {
    // In key order: servers adding to the same buckets at once lock their rows in the same order
    // and take turns, rather than each hold a row the other waits for.
    const sorted = [...buckets].sort(order)
    await transaction(this.db, async (c) => {
      for (const b of sorted) {
        await c.query(
          `INSERT INTO slo_buckets (workspace, pipeline, objective, arm, minute, good, total) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (workspace, pipeline, objective, arm, minute)
           DO UPDATE SET good = slo_buckets.good + excluded.good, total = slo_buckets.total + excluded.total`,
          [...keyOf(b), b.minute, b.good, b.total],
        )
      }
    })
  }

  async tally(key: SloSeriesKey, from: number, to: number, floor?: number) {
    const { rows } = await this.db.query(
      `SELECT COALESCE(SUM(${GOOD}), 0)::bigint AS good, COALESCE(SUM(${EVENTS}), 0)::bigint AS total
       FROM slo_buckets WHERE ${RANGE}`,
      [...keyOf(key), from, to, floor ?? null],
    )
    return sloTallyFrom(rows[0])
  }

  async history(key: SloSeriesKey, from: number, to: number, stepMs: number, floor?: number) {
    const { rows } = await this.db.query(
      `SELECT $5::bigint + (minute - $5::bigint) / $8::bigint * $8::bigint AS start, SUM(${GOOD})::bigint AS good, SUM(${EVENTS})::bigint AS total
       FROM slo_buckets WHERE ${RANGE} GROUP BY 1 ORDER BY 1`,
      [...keyOf(key), from, to, floor ?? null, stepMs],
    )
    return rows.map(sloStepFrom)
  }

  async arms(workspace: string, pipeline: string, objective: string): Promise<string[]> {
    const { rows } = await this.db.query(
      'SELECT DISTINCT arm FROM slo_buckets WHERE workspace = $1 AND pipeline = $2 AND objective = $3 ORDER BY arm',
      [workspace, pipeline, objective],
    )
    return rows.map((r) => sloArmFrom(r).arm)
  }

  async prune(workspace: string, pipeline: string, before: number): Promise<number> {
    const r = await this.db.query('DELETE FROM slo_buckets WHERE workspace = $1 AND pipeline = $2 AND minute < $3', [
      workspace,
      pipeline,
      before,
    ])
    return r.rowCount ?? 0
  }

  async alerts(workspace?: string, pipeline?: string): Promise<SloAlertRecord[]> {
    const r =
      workspace === undefined
        ? await this.db.query('SELECT * FROM slo_alerts ORDER BY workspace, pipeline, objective, arm, severity')
        : await this.db.query(
            'SELECT * FROM slo_alerts WHERE workspace = $1 AND pipeline = $2 ORDER BY objective, arm, severity',
            [workspace, pipeline],
          )
    return r.rows.map(sloAlertFrom)
  }

  async putAlert(a: SloAlertRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO slo_alerts (workspace, pipeline, objective, arm, severity, since, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workspace, pipeline, objective, arm, severity) DO UPDATE SET since = excluded.since, detail = excluded.detail`,
      [...keyOf(a), a.severity, a.since, JSON.stringify(a.detail)],
    )
  }

  async clearAlert(key: SloSeriesKey, severity: string): Promise<void> {
    await this.db.query(`DELETE FROM slo_alerts WHERE ${SERIES} AND severity = $5`, [...keyOf(key), severity])
  }

  async forget(workspace: string, pipeline: string): Promise<void> {
    await transaction(this.db, async (c) => {
      await c.query('DELETE FROM slo_buckets WHERE workspace = $1 AND pipeline = $2', [workspace, pipeline])
      await c.query('DELETE FROM slo_alerts WHERE workspace = $1 AND pipeline = $2', [workspace, pipeline])
    })
  }
}
