/**
 * Shared choices of the row-wise kernels (softmax, argmax, top-k): short rows get one thread
 * each (a workgroup per row would idle most of its threads), longer rows one workgroup each,
 * sized to the row. These are compile-time constants: one pipeline per size class serves every
 * batch size.
 */
import { InvalidInputError } from '../errors.js'
import { grid } from '../gpu/program.js'

/** Rows up to this length are handled by one thread each. */
export const ROW_PER_THREAD_MAX_COLS = 32
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

/** NaN ranks below everything; larger first; ties to the lower index (the kernels' order). */
export function ranksBefore(va: number, ia: number, vb: number, ib: number): boolean {
  const na = Number.isNaN(va)
  const nb = Number.isNaN(vb)
  if (na !== nb) return nb
  if (na || va === vb) return ia < ib
  return va > vb
}
