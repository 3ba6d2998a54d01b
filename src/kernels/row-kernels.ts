/**
 * Shared choices of the row-wise kernels (softmax, argmax, top-k): short rows get one thread
 * each (a workgroup per row would idle most of its threads), longer rows one workgroup each,
 * sized to the row. These are compile-time constants: one pipeline per size class serves every
 * batch size.
 */
import { InvalidInputError } from '../errors.js'
import { grid } from '../gpu/program.js'

/** Rows up to this length are handled by one thread each. */
const ROW_PER_THREAD_MAX_COLS = 32
const ROWS_PER_WORKGROUP = 64

export interface RowPlan {
  constants: { WG: number; ROW_PER_THREAD: number }
  workgroups: [number, number, number]
}

/** Dispatch plan for a [rows, cols] row-wise kernel. */
export function rowPlan(rows: number, cols: number): RowPlan {
  if (cols <= ROW_PER_THREAD_MAX_COLS) {
    return {
      constants: { WG: ROWS_PER_WORKGROUP, ROW_PER_THREAD: 1 },
      workgroups: grid(Math.ceil(rows / ROWS_PER_WORKGROUP)),
    }
  }
  return { constants: { WG: cols <= 512 ? 64 : 256, ROW_PER_THREAD: 0 }, workgroups: grid(rows) }
}

/** Check a [rows, cols] f32 matrix's dims against its data length. */
export function checkMatrix(what: string, rows: number, cols: number, length?: number): void {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new InvalidInputError(`${what}: expected a [rows, cols] matrix with rows, cols >= 1, got [${rows}, ${cols}]`)
  }
  if (length !== undefined && length !== rows * cols) {
    throw new InvalidInputError(`${what}: ${length} values for [${rows}, ${cols}]`)
  }
}

/**
 * NaN ranks below everything; larger first; ties to the lower index (the kernels' order). Values
 * may be bigints (int64 outputs ranked exactly), never a bigint against a number.
 */
export function ranksBefore<T extends number | bigint>(va: T, ia: number, vb: T, ib: number): boolean {
  const na = Number.isNaN(va)
  const nb = Number.isNaN(vb)
  if (na !== nb) return nb
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: argmax compares a later index with an earlier one, and rankRow's stable sort keeps ties in index order whatever a tie answers
  if (na || va === vb) return ia < ib
  // Stryker disable next-line EqualityOperator: reached only with va !== vb
  return va > vb
}

/**
 * The columns of one row, best first, in the kernels' order ({@link ranksBefore}), into `order`
 * (reused between rows): the top-k kernel's CPU twin and the OIP classification extension rank
 * with it, without the kernel's limit on k.
 */
export function rankRow<T extends number | bigint>(row: ArrayLike<T>, order: number[]): number[] {
  order.length = row.length
  for (let i = 0; i < row.length; i++) order[i] = i
  return order.sort((a, b) => (ranksBefore(row[a] as T, a, row[b] as T, b) ? -1 : 1))
}
