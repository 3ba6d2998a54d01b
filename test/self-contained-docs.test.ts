/**
 * The repository explains itself: no code comment, doc or script points at notes kept outside it
 * (a `shared` folder beside the checkout, its platform or style notes), which a reader of the
 * repository cannot open. What they said is written here instead, where it is needed.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('..', import.meta.url).pathname
/** Generated, installed or local-only folders. */
const SKIP = new Set(['node_modules', 'dist', '.git', '.gpu-payload', '.lastmile-data', 'results', 'coverage'])
/** Spelt in pieces, so that this file does not match itself. */
const OUTSIDE = new RegExp(
  [['\\.\\.', 'shared', ''].join('/'), ['', 'work', 'shared'].join('/'), 'PLATFORM\\.md', 'STYLE\\.md'].join('|'),
)

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue
    const path = join(dir, e.name)
    if (e.isDirectory()) yield* files(path)
    else if (e.isFile() && /\.(ts|mjs|js|md|sh|json|jsonc|py|wgsl|yml|yaml|toml)$|^\.npmrc$|^run$/.test(e.name))
      yield path
  }
}

describe('the repository', () => {
  it('points at nothing outside it', () => {
    const found = [...files(ROOT)].flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, i) => (OUTSIDE.test(line) ? [`${relative(ROOT, path)}:${i + 1}: ${line.trim()}`] : [])),
    )
    expect(found).toEqual([])
  })
})
