/**
 * The `bodies` part of BENCHMARKS.md: probe latency while 8 clients send 60 MiB bodies, as a table,
 * a chart of p99 per case (bench/plots/bodies-p99.svg) and the goal line (p99 under 100 ms).
 */
import { esc, frame, num, PAD, W } from '../src/svg.js'
import { fmt } from './lib.js'

// biome-ignore lint/suspicious/noExplicitAny: result files are untyped JSON, read here only for display
type Json = Record<string, any>

/** The issue's goal: health and single-row inference p99 under this while the large bodies arrive. */
const GOAL_P99_MS = 100

const COLORS = { health: '#4c78a8', single: '#f58518' }

/** Horizontal bars of p99 (log scale) per case and probe, with the goal marked. */
export function bodiesPlot(j: Json): string {
  const cases = j.cases as Json[]
  const name = (c: Json) =>
    `${String(c.case).split(' ')[0]} ${c.large ? `load, ${c.workers > 0 ? `${c.workers} body worker(s)` : 'workers off'}` : 'no load'}`
  const bars = cases.flatMap((c) => [
    { label: `${name(c)}: health`, v: c.health.p99 as number, color: COLORS.health },
    { label: `${name(c)}: 1-row`, v: c.single.p99 as number, color: COLORS.single },
  ])
  const left = 250
  const plotW = W - left - PAD.right - 40
  const barH = 18
  const top = PAD.top
  const height = top + bars.length * (barH + 6) + 50
  const lo = Math.log10(Math.min(1, ...bars.map((b) => b.v)))
  const hi = Math.log10(Math.max(GOAL_P99_MS * 10, ...bars.map((b) => b.v)))
  const x = (v: number) => left + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plotW
  const body: string[] = []
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    body.push(`<line x1="${x(10 ** e)}" y1="${top - 4}" x2="${x(10 ** e)}" y2="${height - 40}" stroke="#eee"/>`)
    body.push(`<text x="${x(10 ** e)}" y="${height - 26}" text-anchor="middle">${num(10 ** e)} ms</text>`)
  }
  bars.forEach((b, i) => {
    const y = top + i * (barH + 6)
    body.push(`<text x="${left - 6}" y="${y + 13}" text-anchor="end">${esc(b.label)}</text>`)
    body.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(b.v) - left)}" height="${barH}" fill="${b.color}"/>`)
    body.push(`<text x="${x(b.v) + 4}" y="${y + 13}">${fmt.ms(b.v)}</text>`)
  })
  const g = x(GOAL_P99_MS)
  body.push(`<line x1="${g}" y1="${top - 4}" x2="${g}" y2="${height - 40}" stroke="#e45756" stroke-dasharray="4 3"/>`)
  body.push(
    `<text x="${g}" y="${height - 10}" text-anchor="middle" fill="#e45756">goal: p99 &lt; ${GOAL_P99_MS} ms</text>`,
  )
  return frame('p99 latency of the probes, log scale', body, height)
}

/** The section's lines (the chart is linked as bench/plots/bodies-p99.svg). */
export function bodiesSection(j: Json, where: string): string[] {
  const cases = j.cases as Json[]
  const row = (c: Json) => [
    c.case,
    c.workers,
    `${fmt.ms(c.health.p50)} / ${fmt.ms(c.health.p99)} / ${fmt.ms(c.health.max)}`,
    `${fmt.ms(c.single.p50)} / ${fmt.ms(c.single.p99)} / ${fmt.ms(c.single.max)}`,
    `${fmt.ms(c.loop.p99)} / ${fmt.ms(c.loop.max)}`,
    c.large ? `${c.large.statuses['200'] ?? 0} of ${c.large.answered} (${c.large.mibPerSec.toFixed(1)} MiB/s)` : '–',
    c.peakRssMiB?.toFixed(0) ?? '?',
  ]
  const head = [
    'case',
    'body workers',
    'health p50 / p99 / max ms',
    '1-row p50 / p99 / max ms',
    'event-loop delay p99 / max ms',
    'large bodies answered 200',
    'peak RSS MiB',
  ]
  return [
    `## bodies: the event loop while ${j.clients} clients send 60 MiB bodies`,
    '',
    where,
    '',
    `A probe sends \`GET /v2/health/ready\` and a single-row OIP inference every ${j.periodMs} ms each for ${j.seconds} s, on a fixed schedule (latency counts from when each was due, so a stall delays every probe due meanwhile), while ${j.clients} clients POST OIP JSON bodies of [${j.shape.join(', ')}] FP32 (~60 MiB) back to back to an MLP ${j.shape[1]}→16→3. Each case runs on a fresh server; the event-loop delay is the server's own (prom-client's monitorEventLoopDelay over the same window).`,
    '',
    [
      `| ${head.join(' | ')} |`,
      `|${head.map(() => '---').join('|')}|`,
      ...cases.map((c) => `| ${row(c).join(' | ')} |`),
    ].join('\n'),
    '',
    '![bodies](bench/plots/bodies-p99.svg)',
    '',
    "Limits: the 2 cores are shared by the server (event loop, one body worker, onnxruntime), the load generator, the probe and whatever else runs on the machine, so the p99 moves with the machine's load; large bodies are parsed at about one body worker's JSON speed.",
    '',
  ]
}

/** The goal line: met or missed, with the figures. */
export function bodiesGoal(j: Json): string {
  const cases = j.cases as Json[]
  const on = cases.find((c) => c.large && c.workers > 0)
  const off = cases.find((c) => c.large && c.workers === 0)
  if (!on) return '- Large bodies never stall the event loop: no run with body workers in the latest results.'
  const worst = Math.max(on.health.p99, on.single.p99)
  return `- Health and single-row p99 < ${GOAL_P99_MS} ms while ${j.clients} clients send 60 MiB JSON bodies: ${worst < GOAL_P99_MS ? 'met' : 'not met'} (health ${fmt.ms(on.health.p99)} ms, single-row ${fmt.ms(on.single.p99)} ms with ${on.workers} body worker${on.workers === 1 ? '' : 's'}${off ? `; ${fmt.ms(off.health.p99)} and ${fmt.ms(off.single.p99)} ms with LASTMILE_BODY_WORKERS=0` : ''}).`
}
