/**
 * Flights data from the vega-datasets npm package: `flights-200k.arrow` (delay, distance, time of
 * day) and `flights-3m.parquet` (date, delay, distance, origin, destination), and a linear model
 * of the delay fitted on the 200k, with its float64 reference.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { tableFromIPC } from '@uwdata/flechette'
import { fitStandardizedLinear, type StandardizedLinearParams, standardizedLinear } from '../fixtures/models.js'

const dataDir = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data')
export const FLIGHTS_200K = join(dataDir, 'flights-200k.arrow')
export const FLIGHTS_3M = join(dataDir, 'flights-3m.parquet')

/** The 200k flights as float64 columns. */
export function flights200k(): { delay: Float64Array; distance: Float64Array; time: Float64Array } {
  const t = tableFromIPC(readFileSync(FLIGHTS_200K))
  const col = (n: string) => Float64Array.from(t.getChild(n)?.toArray() as ArrayLike<number>)
  return { delay: col('delay'), distance: col('distance'), time: col('time') }
}

/** delay ~ distance + time, fitted on the first `n` of the 200k flights; the ONNX model and its parameters. */
export function flightsModel(n = 20_000): { bytes: Uint8Array; params: StandardizedLinearParams } {
  const f = flights200k()
  const params = fitStandardizedLinear(
    [Array.from(f.distance.subarray(0, n)), Array.from(f.time.subarray(0, n))],
    Array.from(f.delay.subarray(0, n)),
  )
  return { bytes: standardizedLinear(params).bytes, params }
}

/** The model's answer in float64 for inputs as the model sees them (float32). */
export function expectedDelay(p: StandardizedLinearParams, x: number[]): number {
  let y = p.b
  for (let j = 0; j < x.length; j++) {
    y += ((Math.fround(x[j] as number) - (p.mean[j] as number)) / (p.std[j] as number)) * (p.w[j] as number)
  }
  return y
}
