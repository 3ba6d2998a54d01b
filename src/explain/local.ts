/**
 * Local explanations: per-row attributions φ whose sum is the prediction minus the base value
 * (the mean prediction over the background rows).
 * - KernelSHAP (Lundberg & Lee 2017, as the `shap` package does it): coalitions z of the features,
 *   each valued v(z) = mean over background rows b of f(x where z, b elsewhere); φ solves the
 *   weighted least squares fit of v(z) − base ≈ Σ zᵢφᵢ with the Shapley kernel weights
 *   (M − 1) / (C(M, |z|)·|z|·(M − |z|)) and Σφ = f(x) − base enforced exactly. Subset sizes are
 *   enumerated completely, smallest (and their complements) first, while the budget `nsamples`
 *   allows; the rest is sampled in complementary pairs.
 * - Permutation SHAP (for wide inputs: cost linear in the features): along random feature orders
 *   and their reverses, switch features one by one from background to x; each switch's mean
 *   change is that feature's contribution. Exact efficiency for every order.
 * Features whose value equals every background value get φ = 0 and leave the regression.
 */
import { mulberry32 } from '../random.js'
import { type Predict, rowsOf } from './evaluate.js'

export interface Attribution {
  prediction: number
  base: number
  phi: number[]
}

function binomial(n: number, k: number): number {
  let r = 1
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i
  return r
}

/** Every subset of `items` of size `k` (as index arrays). */
function* subsets(items: number[], k: number, from = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === k) {
    yield [...acc]
    return
  }
  for (let i = from; i <= items.length - (k - acc.length); i++) {
    acc.push(items[i] as number)
    yield* subsets(items, k, i + 1, acc)
    acc.pop()
  }
}

/** Coalitions over the M varying features with their kernel weights (SHAP's sampling scheme). */
function coalitions(M: number, nsamples: number, rand: () => number): { masks: Uint8Array[]; weights: number[] } {
  const masks: Uint8Array[] = []
  const weights: number[] = []
  const kernel = (s: number) => (M - 1) / (s * (M - s)) // total weight of all subsets of size s
  const maxSize = Math.ceil((M - 1) / 2)
  const all = Array.from({ length: M }, (_, i) => i)
  let left = nsamples
  let size = 1
  for (; size <= maxSize; size++) {
    const paired = size !== M - size
    const count = binomial(M, size) * (paired ? 2 : 1)
    if (count > left) break
    for (const sub of subsets(all, size)) {
      for (const side of paired ? [0, 1] : [0]) {
        const m = new Uint8Array(M).fill(side)
        for (const i of sub) m[i] = 1 - side
        masks.push(m)
        weights.push(kernel(size) / binomial(M, size))
      }
    }
    left -= count
  }
  // The sizes not enumerated share their kernel mass equally among sampled pairs.
  const rest: number[] = []
  for (let s = size; s <= maxSize; s++) rest.push(s)
  const mass = rest.reduce((a, s) => a + kernel(s) * (s !== M - s ? 2 : 1), 0)
  const pairs = Math.floor(left / 2)
  if (rest.length > 0 && pairs > 0) {
    const p = rest.map((s) => kernel(s) * (s !== M - s ? 2 : 1))
    for (let k = 0; k < pairs; k++) {
      let u = rand() * mass
      let s = rest[rest.length - 1] as number
      for (let i = 0; i < rest.length; i++) {
        u -= p[i] as number
        if (u <= 0) {
          s = rest[i] as number
          break
        }
      }
      const order = all.slice()
      for (let i = M - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1))
        ;[order[i], order[j]] = [order[j] as number, order[i] as number]
      }
      const m = new Uint8Array(M)
      for (let i = 0; i < s; i++) m[order[i] as number] = 1
      masks.push(
        m,
        m.map((v) => 1 - v),
      )
      weights.push(mass / (2 * pairs), mass / (2 * pairs))
    }
  }
  return { masks, weights }
}

/** Solve A·w = b (A symmetric positive definite, n×n row-major) by Gaussian elimination with pivoting. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let k = 0; k < n; k++) {
    let piv = k
    for (let i = k + 1; i < n; i++) if (Math.abs(A[i * n + k] as number) > Math.abs(A[piv * n + k] as number)) piv = i
    if (piv !== k) {
      for (let j = 0; j < n; j++) [A[k * n + j], A[piv * n + j]] = [A[piv * n + j] as number, A[k * n + j] as number]
      ;[b[k], b[piv]] = [b[piv] as number, b[k] as number]
    }
    const d = A[k * n + k] as number
    for (let i = k + 1; i < n; i++) {
      const f = (A[i * n + k] as number) / d
      for (let j = k; j < n; j++) A[i * n + j] = (A[i * n + j] as number) - f * (A[k * n + j] as number)
      b[i] = (b[i] as number) - f * (b[k] as number)
    }
  }
  const w = new Float64Array(n)
  for (let k = n - 1; k >= 0; k--) {
    let s = b[k] as number
    for (let j = k + 1; j < n; j++) s -= (A[k * n + j] as number) * (w[j] as number)
    w[k] = s / (A[k * n + k] as number)
  }
  return w
}

/** Features of x that differ from some background row (the others get φ = 0). */
function varying(x: Float64Array, B: Float64Array, nb: number, F: number): number[] {
  const out: number[] = []
  for (let j = 0; j < F; j++) {
    for (let i = 0; i < nb; i++) {
      if (B[i * F + j] !== x[j]) {
        out.push(j)
        break
      }
    }
  }
  return out
}

/** Mean prediction of the background rows (the base value). */
export async function baseValue(predict: Predict, B: Float64Array, nb: number): Promise<number> {
  const p = await predict(nb, rowsOf(B, B.length / nb))
  return p.reduce((a, v) => a + v, 0) / nb
}

/** Where both estimators start: f(x), zero attributions, and the features whose value differs from some background row. */
async function start(predict: Predict, x: Float64Array, B: Float64Array, nb: number) {
  const F = x.length
  const prediction = (await predict(1, rowsOf(x, F)))[0] as number
  return { F, prediction, phi: new Array<number>(F).fill(0), vary: varying(x, B, nb, F) }
}

export async function kernelShap(
  predict: Predict,
  x: Float64Array,
  B: Float64Array,
  nb: number,
  base: number,
  o: { nsamples: number; seed: number },
): Promise<Attribution> {
  const { F, prediction, phi, vary } = await start(predict, x, B, nb)
  const M = vary.length
  if (M === 0) return { prediction, base, phi }
  if (M === 1) {
    phi[vary[0] as number] = prediction - base
    return { prediction, base, phi }
  }
  const { masks, weights } = coalitions(M, o.nsamples, mulberry32(o.seed))
  const K = masks.length
  // Every coalition against every background row: row k·nb + i is background row i with x's
  // values in coalition k's columns (K·nb rows, built a batch at a time).
  const p = await predict(K * nb, (into, first, count) => {
    for (let r = 0; r < count; r++) {
      const k = Math.floor((first + r) / nb)
      const i = (first + r) % nb
      into.set(B.subarray(i * F, (i + 1) * F), r * F)
      const m = masks[k] as Uint8Array
      for (let v = 0; v < M; v++) {
        if (!m[v]) continue
        const j = vary[v] as number
        into[r * F + j] = x[j] as number
      }
    }
  })
  // Eliminate the last varying feature with Σφ = f(x) − base, then weighted least squares.
  const total = prediction - base
  const n = M - 1
  const A = new Float64Array(n * n)
  const rhs = new Float64Array(n)
  for (let k = 0; k < K; k++) {
    const m = masks[k] as Uint8Array
    let v = 0
    for (let i = 0; i < nb; i++) v += p[k * nb + i] as number
    const y = v / nb - base - (m[n] as number) * total
    const w = weights[k] as number
    for (let a = 0; a < n; a++) {
      const za = (m[a] as number) - (m[n] as number)
      if (za === 0) continue
      rhs[a] = (rhs[a] as number) + w * za * y
      for (let c = 0; c < n; c++)
        A[a * n + c] = (A[a * n + c] as number) + w * za * ((m[c] as number) - (m[n] as number))
    }
  }
  const sol = solve(A, rhs, n)
  let sum = 0
  for (let a = 0; a < n; a++) {
    phi[vary[a] as number] = sol[a] as number
    sum += sol[a] as number
  }
  phi[vary[n] as number] = total - sum
  return { prediction, base, phi }
}

export async function permutationShap(
  predict: Predict,
  x: Float64Array,
  B: Float64Array,
  nb: number,
  base: number,
  o: { npermutations: number; seed: number },
): Promise<Attribution> {
  const { F, prediction, phi, vary } = await start(predict, x, B, nb)
  const M = vary.length
  if (M === 0) return { prediction, base, phi }
  const rand = mulberry32(o.seed)
  const orders: number[][] = []
  for (let k = 0; k < o.npermutations; k++) {
    const order = vary.slice()
    for (let i = M - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      ;[order[i], order[j]] = [order[j] as number, order[i] as number]
    }
    orders.push(order, order.slice().reverse()) // antithetic: each order and its reverse
  }
  // Per order: M + 1 steps (background, then one more feature from x each step), nb rows each:
  // row (k·steps + s)·nb + i is background row i with the first s features of order k from x.
  const steps = M + 1
  const p = await predict(orders.length * steps * nb, (into, first, count) => {
    for (let r = 0; r < count; r++) {
      const i = (first + r) % nb
      const ks = Math.floor((first + r) / nb)
      const order = orders[Math.floor(ks / steps)] as number[]
      const s = ks % steps
      into.set(B.subarray(i * F, (i + 1) * F), r * F)
      for (let t = 0; t < s; t++) into[r * F + (order[t] as number)] = x[order[t] as number] as number
    }
  })
  const meanAt = (k: number, s: number) => {
    let v = 0
    for (let i = 0; i < nb; i++) v += p[(k * steps + s) * nb + i] as number
    return v / nb
  }
  orders.forEach((order, k) => {
    let prev = meanAt(k, 0)
    for (let s = 1; s < steps; s++) {
      const cur = meanAt(k, s)
      const j = order[s - 1] as number
      phi[j] = (phi[j] as number) + (cur - prev) / orders.length
      prev = cur
    }
  })
  return { prediction, base, phi }
}
