/**
 * A pipeline's steps drawn as a graph, left to right: the request, each step as a column of boxes
 * (a model; several models; a split's arms with their weights or keys; a shadow's champion and
 * challengers; pre, post and validation steps), and the answer. Every box of a column connects to
 * every box of the next: rows flow through one arm of a split, through all models of a shadow.
 */

interface Node {
  label: string
  note?: string
  kind: 'io' | 'model' | 'pre' | 'post' | 'check' | 'split' | 'shadow'
}

type Step = Record<string, unknown>

const name = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v))

/** The boxes of one step. */
export function stepNodes(step: Step): Node[] {
  if ('model' in step) return [{ label: name(step.model), kind: 'model' }]
  if ('models' in step && Array.isArray(step.models)) return step.models.map((m) => ({ label: name(m), kind: 'model' }))
  if ('pre' in step) return [{ label: 'pre', note: Object.keys((step.pre as Step) ?? {})[0] ?? '', kind: 'pre' }]
  if ('post' in step) {
    const post = (step.post as Step) ?? {}
    const parts = [post.activation, post.argmax && 'argmax', post.topk && `top ${post.topk}`].filter(Boolean)
    return [{ label: 'post', note: parts.join(', '), kind: 'post' }]
  }
  if ('validations' in step)
    return [{ label: 'checks', note: Object.keys((step.validations as Step) ?? {}).join(', '), kind: 'check' }]
  if ('random_split' in step) {
    const s = step.random_split as { weights?: [number, string][]; hash_key?: string }
    const total = (s.weights ?? []).reduce((a, [w]) => a + w, 0)
    return (s.weights ?? []).map(([w, m]) => ({
      label: name(m),
      note: `${total ? ((100 * w) / total).toFixed(1) : 0}%${s.hash_key ? ` by ${s.hash_key}` : ''}`,
      kind: 'split',
    }))
  }
  if ('key_split' in step) {
    const s = step.key_split as { key?: string; options?: Record<string, string>; default?: string }
    const arms = Object.entries(s.options ?? {}).map(([k, m]) => ({ label: name(m), note: `${s.key} = ${k}` }))
    if (s.default) arms.push({ label: s.default, note: 'default' })
    return arms.map((a) => ({ ...a, kind: 'split' as const }))
  }
  if ('shadow' in step) {
    const s = step.shadow as { champion?: string; challengers?: string[] }
    return [
      { label: name(s.champion), note: 'champion', kind: 'shadow' },
      ...(s.challengers ?? []).map((c) => ({ label: name(c), note: 'challenger', kind: 'shadow' as const })),
    ]
  }
  return [{ label: Object.keys(step)[0] ?? '?', kind: 'model' }]
}

const W = 150
const H = 44
const GAP_X = 50
const GAP_Y = 14

export function StepsGraph({ steps }: { steps: unknown[] }) {
  const columns: Node[][] = [
    [{ label: 'request', kind: 'io' }],
    ...steps.map((s) => stepNodes((s ?? {}) as Step)),
    [{ label: 'answer', kind: 'io' }],
  ]
  const tallest = Math.max(...columns.map((c) => c.length))
  const height = tallest * (H + GAP_Y) + GAP_Y
  const width = columns.length * (W + GAP_X) - GAP_X + 20
  const at = (col: number, row: number, n: number) => ({
    x: 10 + col * (W + GAP_X),
    y: (height - n * (H + GAP_Y) + GAP_Y) / 2 + row * (H + GAP_Y),
  })
  const edges: preact.JSX.Element[] = []
  columns.forEach((col, i) => {
    const next = columns[i + 1]
    if (!next) return
    col.forEach((_, a) => {
      next.forEach((_, b) => {
        const p = at(i, a, col.length)
        const q = at(i + 1, b, next.length)
        edges.push(
          <line key={`${i}.${a}.${b}`} x1={p.x + W} y1={p.y + H / 2} x2={q.x} y2={q.y + H / 2} class="edge" />,
        )
      })
    })
  })
  return (
    <svg
      class="graph"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label={`pipeline graph: ${columns.map((c) => c.map((n) => n.label).join(' or ')).join(' → ')}`}
    >
      {edges}
      {columns.map((col, i) =>
        col.map((n, j) => {
          const p = at(i, j, col.length)
          return (
            <g key={`${i}.${j}`} class={`node ${n.kind}`} transform={`translate(${p.x},${p.y})`}>
              <rect width={W} height={H} rx={6} />
              <text x={W / 2} y={n.note ? 18 : 27} text-anchor="middle">
                {n.label.length > 20 ? `${n.label.slice(0, 19)}…` : n.label}
              </text>
              {n.note && (
                <text x={W / 2} y={35} text-anchor="middle" class="note">
                  {n.note.length > 24 ? `${n.note.slice(0, 23)}…` : n.note}
                </text>
              )}
            </g>
          )
        }),
      )}
    </svg>
  )
}
