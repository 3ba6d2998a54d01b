/** A uPlot time chart: series over shared x values (seconds since the epoch), redrawn on new data. */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'

export interface ChartSeries {
  label: string
  color: string
  /** Which axis: left (`rate`) or right (`ms`). */
  scale: 'rate' | 'ms'
}

export function TimeChart(props: { title: string; series: ChartSeries[]; data: (number | null)[][]; height?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const key = props.series.map((s) => s.label).join('|')
  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt when its series change (key)
  useEffect(() => {
    const el = box.current
    if (!el) return
    const opts: uPlot.Options = {
      title: props.title,
      width: Math.max(320, el.clientWidth),
      height: props.height ?? 220,
      scales: { x: { time: true }, rate: { auto: true }, ms: { auto: true } },
      series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.scale }))],
      axes: [
        {},
        { scale: 'rate', label: 'per second' },
        ...(props.series.some((s) => s.scale === 'ms') ? [{ scale: 'ms', side: 1, label: 'ms', grid: { show: false } }] : []),
      ],
    }
    plot.current = new uPlot(opts, props.data as uPlot.AlignedData, el)
    const resize = () => plot.current?.setSize({ width: Math.max(320, el.clientWidth), height: props.height ?? 220 })
    addEventListener('resize', resize)
    return () => {
      removeEventListener('resize', resize)
      plot.current?.destroy()
      plot.current = null
    }
  }, [key])
  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData)
  }, [props.data])
  return <div ref={box} class="chart" role="img" aria-label={props.title} />
}
