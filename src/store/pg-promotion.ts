/** Promotion rules and their decisions in the PostgreSQL store: one rule per pipeline, decisions by id. */
import type pg from 'pg'
import { decisionFrom, promotionRuleFrom } from './table-rows.js'
import type { DecisionRecord, PromotionRuleRecord, PromotionStore } from './types.js'

/** PromotionStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgPromotion implements PromotionStore {
  constructor(private readonly db: pg.Pool) {}

  async putRule(r: PromotionRuleRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO promotion_rules (workspace, pipeline, config, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace, pipeline) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      [r.workspace, r.pipeline, JSON.stringify(r.config), r.updatedAt],
    )
  }

  async getRule(workspace: string, pipeline: string): Promise<PromotionRuleRecord | undefined> {
    const r = await this.db.query('SELECT * FROM promotion_rules WHERE workspace = $1 AND pipeline = $2', [
      workspace,
      pipeline,
    ])
    return r.rows.length === 0 ? undefined : promotionRuleFrom(r.rows[0])
  }

  async rules(workspace?: string): Promise<PromotionRuleRecord[]> {
    const r =
      workspace === undefined
        ? await this.db.query('SELECT * FROM promotion_rules ORDER BY workspace, pipeline')
        : await this.db.query('SELECT * FROM promotion_rules WHERE workspace = $1 ORDER BY pipeline', [workspace])
    return r.rows.map(promotionRuleFrom)
  }

  async deleteRule(workspace: string, pipeline: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM promotion_rules WHERE workspace = $1 AND pipeline = $2', [
      workspace,
      pipeline,
    ])
    return (r.rowCount ?? 0) > 0
  }

  async forget(workspace: string, pipeline: string): Promise<void> {
    await this.db.query(
      'WITH r AS (DELETE FROM promotion_rules WHERE workspace = $1 AND pipeline = $2) DELETE FROM decisions WHERE workspace = $1 AND pipeline = $2',
      [workspace, pipeline],
    )
  }

  async addDecision(d: Omit<DecisionRecord, 'id'>): Promise<DecisionRecord> {
    const r = await this.db.query(
      'INSERT INTO decisions (workspace, pipeline, time, action, detail) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [d.workspace, d.pipeline, d.time, d.action, JSON.stringify(d.detail)],
    )
    return decisionFrom(r.rows[0])
  }

  async decisions(
    workspace: string,
    pipeline: string,
    limit: number,
    before = Number.MAX_SAFE_INTEGER,
  ): Promise<DecisionRecord[]> {
    const r = await this.db.query(
      'SELECT * FROM decisions WHERE workspace = $1 AND pipeline = $2 AND id < $3 ORDER BY id DESC LIMIT $4',
      [workspace, pipeline, before, limit],
    )
    return r.rows.map(decisionFrom)
  }
}
