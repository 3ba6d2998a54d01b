/**
 * Shared choices of the row-wise kernels (softmax, argmax, top-k): one workgroup per row, its
 * size a compile-time constant picked from the row length, so one pipeline per size class
 * serves every batch.
 */

import { InvalidInputError } from '../errors.js'
import { grid } from '../gpu/program.js'

/** Threads per row: enough to cover short rows without idling most of a large workgroup. */
export function rowWorkgroupSize(cols: number): 32 | 64 | 256 {
  if (cols <= 32) return 32
  return cols <= 512 ? 64 : 256
}

/** Dispatch size for `rows` rows, one workgroup each. */
export function rowGrid(rows: number): [number, number, number] {
  return grid(rows)
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
