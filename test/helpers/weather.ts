/** Seattle's daily weather 2012–2015 from the vega-datasets npm package. */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export interface Day {
  date: string
  year: number
  month: number
  precipitation: number
  temp_max: number
  temp_min: number
  wind: number
}

export function seattleWeather(): Day[] {
  // The package exports only its JS entry; its data/ folder sits beside build/.
  const path = join(
    dirname(createRequire(import.meta.url).resolve('vega-datasets')),
    '..',
    'data',
    'seattle-weather.csv',
  )
  const [, ...lines] = readFileSync(path, 'utf8').trim().split('\n')
  return lines.map((l) => {
    const [date = '', p, tmax, tmin, wind] = l.split(',')
    return {
      date,
      year: Number(date.slice(0, 4)),
      month: Number(date.slice(5, 7)),
      precipitation: Number(p),
      temp_max: Number(tmax),
      temp_min: Number(tmin),
      wind: Number(wind),
    }
  })
}
