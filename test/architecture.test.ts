/**
 * ARCHITECTURE.md stays true: every link names a file that exists and, where its text is an
 * identifier, an identifier that file still has; its layer table lists exactly the tiers and
 * modules test/layers.test.ts enforces.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TIERS } from './helpers/import-graph.js'

const ROOT = new URL('..', import.meta.url).pathname
const DOC = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8')

/** Each `[text](target)` link of the page whose target is a path in the repository. */
const LINKS = [...DOC.matchAll(/\[([^\]]+)\]\(([^)#\s]+)\)/g)]
  .map((m) => ({ text: m[1] as string, target: m[2] as string }))
  .filter((l) => !/^[a-z]+:/.test(l.target))

describe('ARCHITECTURE.md', () => {
  it('links only to files that exist, naming identifiers they still declare', () => {
    expect(LINKS.length).toBeGreaterThan(30)
    const wrong = LINKS.flatMap(({ text, target }) => {
      const path = join(ROOT, target)
      if (!existsSync(path)) return [`${target}: no such file`]
      const id = /^`([A-Za-z_$][\w$]*)`$/.exec(text)?.[1]
      if (id === undefined) return []
      // Declared, not merely mentioned: a class, function, const, interface or type of that name.
      const declared = new RegExp(`(?:class|function|const|let|interface|type|async function)\\s+${id}\\b`)
      return declared.test(readFileSync(path, 'utf8')) ? [] : [`${target}: declares no ${id}`]
    })
    expect(wrong).toEqual([])
  })

  it('has one row per tier, listing exactly the modules of that tier', () => {
    const rows = new Map(
      DOC.split('\n')
        .filter((l) => /^\| [a-z]+ \| `/.test(l))
        .map((l) => {
          const [, tier, modules] = l.split('|').map((c) => c.trim())
          return [tier as string, [...(modules as string).matchAll(/`([^`]+)`/g)].map((m) => m[1])]
        }),
    )
    expect([...rows.keys()]).toEqual(TIERS.map((t) => t.name))
    for (const t of TIERS) expect(rows.get(t.name), t.name).toEqual([...t.modules])
  })
})
