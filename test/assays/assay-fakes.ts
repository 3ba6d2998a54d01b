/**
 * In-memory stand-ins for what the assay service and scheduler are given: the assay store (results
 * kept by window start, replaced for the same window, read back inside [start, end] as the SQLite
 * store does), the inference log (values from a test's function), the outbound policy (scripted
 * answers) and a logger that keeps every line. Every call is recorded for the tests to read.
 */
import type { AssayLimits } from '../../src/assays/definition.js'
import type { Logger } from '../../src/logger.js'
import type { InferenceLog } from '../../src/logs/inference-log.js'
import type { OutboundPolicy, OutboundRequest, OutboundResponse } from '../../src/outbound/policy.js'
import type { AssayRecord, AssayResultRecord, AssayStore, Store } from '../../src/store/types.js'

/** Limits small enough to reach in a test: a window of 1 s, 5 windows a run, 10 values a request, 2 webhooks. */
export const limits: AssayLimits = {
  minWindowMs: 1000,
  maxRunWindows: 5,
  maxTickWindows: 3,
  maxRequestValues: 10,
  maxWebhooks: 2,
}

export class MemoryAssays implements AssayStore {
  readonly rows: AssayRecord[] = []
  readonly stored: AssayResultRecord[] = []
  /** The arguments of each `results` call. */
  readonly resultQueries: Array<[number, number | undefined, number | undefined]> = []
  /** Calls of `list`; `failList` makes the next ones throw it. */
  listCalls = 0
  failList: Error | undefined
  private nextId = 1

  async add(a: Omit<AssayRecord, 'id' | 'createdAt'>): Promise<AssayRecord> {
    const r = { ...a, id: this.nextId++, createdAt: '2024-05-01T00:00:00.000Z' }
    this.rows.push(r)
    return r
  }

  async list(workspace?: string): Promise<AssayRecord[]> {
    this.listCalls++
    if (this.failList) throw this.failList
    return this.rows.filter((a) => workspace === undefined || a.workspace === workspace)
  }

  async get(workspace: string, id: number): Promise<AssayRecord | undefined> {
    return this.rows.find((a) => a.workspace === workspace && a.id === id)
  }

  async delete(workspace: string, id: number): Promise<boolean> {
    const i = this.rows.findIndex((a) => a.workspace === workspace && a.id === id)
    if (i < 0) return false
    this.rows.splice(i, 1)
    return true
  }

  async putResult(r: AssayResultRecord): Promise<void> {
    const i = this.stored.findIndex(
      (s) => s.assayId === r.assayId && s.windowStart === r.windowStart && s.windowEnd === r.windowEnd,
    )
    if (i >= 0) this.stored[i] = r
    else this.stored.push(r)
  }

  async results(assayId: number, start?: number, end?: number): Promise<AssayResultRecord[]> {
    this.resultQueries.push([assayId, start, end])
    return this.stored
      .filter(
        (r) =>
          r.assayId === assayId &&
          (start === undefined || r.windowStart >= start) &&
          (end === undefined || r.windowEnd <= end),
      )
      .sort((a, b) => a.windowStart - b.windowStart)
  }
}

/** A store of which only `assays` is used. */
export const storeOf = (assays: MemoryAssays) => ({ assays }) as unknown as Store

interface Line {
  level: string
  msg: string
  fields: Record<string, unknown>
}

export function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields: fields ?? {} })
  }
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines }
}

/** A log whose values for a query are `values(start, end)`; each query is recorded. */
export function fakeLog(values: (start: number | undefined, end: number | undefined) => number[]) {
  const queries: Array<{ ws: string; pipeline: string; iopath: string; start?: number; end?: number }> = []
  const log = {
    values: async (ws: string, pipeline: string, iopath: string, start?: number, end?: number) => {
      queries.push({ ws, pipeline, iopath, start, end })
      return Float64Array.from(values(start, end))
    },
  } as unknown as InferenceLog
  return { log, queries }
}

/** An outbound policy that allows every URL and answers each send with the next of `answers` (the last repeats). */
export function fakeOutbound(answers: Array<number | Error> = [204]) {
  const checked: string[] = []
  const sent: Array<{ url: string; req: OutboundRequest }> = []
  const outbound = {
    check: async (url: string) => {
      checked.push(url)
      return { url: new URL(url), addresses: [] }
    },
    send: async (url: string, req: OutboundRequest): Promise<OutboundResponse> => {
      sent.push({ url, req })
      const a = answers[Math.min(sent.length - 1, answers.length - 1)] as number | Error
      if (a instanceof Error) throw a
      return { status: a, body: new Uint8Array(), truncated: false }
    },
  } as unknown as OutboundPolicy
  return { outbound, checked, sent }
}
