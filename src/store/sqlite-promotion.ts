/** Promotion rules and their decisions in the SQLite store: one rule per pipeline, decisions by id. */
import type Database from 'better-sqlite3'
import { decisionFrom, promotionRuleFrom } from './table-rows.js'
import type { DecisionRecord, PromotionRuleRecord, PromotionStore } from './types.js'

const statements = (db: Database.Database) => ({
  putRule: db.prepare(
    `INSERT INTO promotion_rules (workspace, pipeline, config, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (workspace, pipeline) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
  ),
  getRule: db.prepare('SELECT * FROM promotion_rules WHERE workspace = ? AND pipeline = ?'),
  allRules: db.prepare('SELECT * FROM promotion_rules ORDER BY workspace, pipeline'),
  rulesOf: db.prepare('SELECT * FROM promotion_rules WHERE workspace = ? ORDER BY pipeline'),
  deleteRule: db.prepare('DELETE FROM promotion_rules WHERE workspace = ? AND pipeline = ?'),
  deleteDecisions: db.prepare('DELETE FROM decisions WHERE workspace = ? AND pipeline = ?'),
  addDecision: db.prepare(
    'INSERT INTO decisions (workspace, pipeline, time, action, detail) VALUES (?, ?, ?, ?, ?) RETURNING *',
  ),
  decisions: db.prepare(
    'SELECT * FROM decisions WHERE workspace = ? AND pipeline = ? AND id < ? ORDER BY id DESC LIMIT ?',
  ),
})

/** PromotionStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqlitePromotion implements PromotionStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db)
  }

  async putRule(r: PromotionRuleRecord): Promise<void> {
    this.sql.putRule.run(r.workspace, r.pipeline, JSON.stringify(r.config), r.updatedAt)
  }

  async getRule(workspace: string, pipeline: string): Promise<PromotionRuleRecord | undefined> {
    const row = this.sql.getRule.get(workspace, pipeline)
    return row === undefined ? undefined : promotionRuleFrom(row)
  }

  async rules(workspace?: string): Promise<PromotionRuleRecord[]> {
    const rows = workspace === undefined ? this.sql.allRules.all() : this.sql.rulesOf.all(workspace)
    return rows.map(promotionRuleFrom)
  }

  async deleteRule(workspace: string, pipeline: string): Promise<boolean> {
    return this.sql.deleteRule.run(workspace, pipeline).changes > 0
  }

  async forget(workspace: string, pipeline: string): Promise<void> {
    this.db.transaction(() => {
      this.sql.deleteRule.run(workspace, pipeline)
      this.sql.deleteDecisions.run(workspace, pipeline)
    })()
  }

  async addDecision(d: Omit<DecisionRecord, 'id'>): Promise<DecisionRecord> {
    return decisionFrom(this.sql.addDecision.get(d.workspace, d.pipeline, d.time, d.action, JSON.stringify(d.detail)))
  }

  async decisions(
    workspace: string,
    pipeline: string,
    limit: number,
    before = Number.MAX_SAFE_INTEGER,
  ): Promise<DecisionRecord[]> {
    return this.sql.decisions.all(workspace, pipeline, before, limit).map(decisionFrom)
  }
}
