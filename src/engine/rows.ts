/**
 * Row operations on batch-major tensors (dim 0 is the batch): stacking requests into one batch
 * and handing each request its own rows back.
 */
import {
  type AnyTensor,
  arrayKind,
  concatTyped,
  elementCount,
  type HostTensor,
  type StringTensor,
  zeros,
} from './tensor.js'

/** Rows in a batch-major tensor (1 for a scalar). */
export function rowCount(t: { dims: readonly number[] }): number {
  return t.dims.length === 0 ? 1 : (t.dims[0] as number)
}

/** Elements per row. */
export function rowWidth(t: { dims: readonly number[] }): number {
  return elementCount(t.dims.slice(1))
}

/** Rows [start, end) of `t`, copied (the batch's buffers are not kept alive by one request). */
export function sliceRows<T extends AnyTensor>(t: T, start: number, end: number): T {
  const w = rowWidth(t)
  const dims = [end - start, ...t.dims.slice(1)]
  if (t.dtype === 'string')
    return { dtype: 'string', dims, data: t.data.slice(start * w, end * w) } as StringTensor as T
  const h = t as HostTensor
  return { dtype: h.dtype, dims, data: h.data.slice(start * w, end * w) } as HostTensor as T
}

/** Stack tensors of equal dtype and row shape along dim 0. */
export function concatRows<T extends AnyTensor>(parts: readonly T[]): T {
  const first = parts[0] as T
  if (parts.length === 1) return first
  const rows = parts.reduce((n, p) => n + rowCount(p), 0)
  const dims = [rows, ...first.dims.slice(1)]
  if (first.dtype === 'string') {
    return { dtype: 'string', dims, data: parts.flatMap((p) => (p as StringTensor).data) } as StringTensor as T
  }
  const { dtype } = first as HostTensor
  const data = concatTyped(
    arrayKind(dtype),
    (parts as readonly HostTensor[]).map((p) => p.data),
  )
  return { dtype, dims, data } as HostTensor as T
}

/** A key that is equal for tensors whose rows can be stacked (same dtype and row shape). */
export function rowShapeKey(feeds: Record<string, { dtype: string; dims: readonly number[] }>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name}:${t.dtype}[${t.dims.slice(1).join(',')}]`)
    .sort()
    .join(';')
}

/** The rows of `t` at `indices` (in that order), copied. */
export function takeRows<T extends AnyTensor>(t: T, indices: readonly number[]): T {
  const w = rowWidth(t)
  const dims = [indices.length, ...t.dims.slice(1)]
  if (t.dtype === 'string') {
    return {
      dtype: 'string',
      dims,
      data: indices.flatMap((r) => t.data.slice(r * w, (r + 1) * w)),
    } as StringTensor as T
  }
  const h = t as HostTensor
  const out = zeros(h.dtype, dims)
  const dst = out.data as unknown as { set(a: ArrayLike<unknown>, o: number): void }
  indices.forEach((r, i) => {
    dst.set(
      (h.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> }).subarray(r * w, (r + 1) * w),
      i * w,
    )
  })
  return out as T
}

/** A tensor of `rows` rows shaped like `like`'s rows, zero (or empty-string) filled. */
export function emptyRows(like: AnyTensor, rows: number): AnyTensor {
  const dims = [rows, ...like.dims.slice(1)]
  if (like.dtype === 'string') return { dtype: 'string', dims, data: new Array(rows * rowWidth(like)).fill('') }
  return zeros(like.dtype, dims)
}

/** Write `part`'s rows into `target` at `indices` (the inverse of takeRows). */
export function scatterRows(target: AnyTensor, part: AnyTensor, indices: readonly number[]): void {
  const w = rowWidth(part)
  if (target.dtype === 'string') {
    indices.forEach((r, i) => {
      for (let k = 0; k < w; k++) target.data[r * w + k] = (part.data as string[])[i * w + k] as string
    })
    return
  }
  const dst = target.data as unknown as { set(a: ArrayLike<unknown>, o: number): void }
  const src = part.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> }
  indices.forEach((r, i) => {
    dst.set(src.subarray(i * w, (i + 1) * w), r * w)
  })
}
