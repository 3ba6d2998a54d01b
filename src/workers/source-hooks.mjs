/**
 * Module hooks for a worker started from TypeScript sources (under the test runner, which
 * transpiles the main thread's modules but not a worker's): `.js` imports that name a `.ts`
 * source resolve to it, and `.ts` modules are transpiled on load with the project's TypeScript.
 * The built package never loads this file: its workers are plain JavaScript.
 *
 * Each worker runs its own copy of these hooks, and loading TypeScript takes a quarter of a second
 * (seconds on a busy machine) while a Parquet job starts a worker per file: transpiled modules are
 * kept in node_modules/.cache by a hash of their source, and TypeScript is loaded only on a miss.
 */
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/lastmile-worker-sources/', import.meta.url))
const TS_VERSION = JSON.parse(readFileSync(require.resolve('typescript/package.json'), 'utf8')).version
/** @type {typeof import('typescript') | undefined} */
let ts

export async function resolve(specifier, context, next) {
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const url = new URL(specifier, context.parentURL)
    const source = new URL(url.href.replace(/\.js$/, '.ts'))
    if (!existsSync(url) && existsSync(source)) return { url: source.href, shortCircuit: true }
  }
  return next(specifier, context)
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context)
  const path = fileURLToPath(url)
  const source = await readFile(path, 'utf8')
  const cached = join(CACHE, `${createHash('sha256').update(`${TS_VERSION}\0${source}`).digest('hex')}.js`)
  const hit = await readFile(cached, 'utf8').catch(() => undefined)
  return { format: 'module', source: hit ?? (await transpile(path, source, cached)), shortCircuit: true }
}

/** `source` as JavaScript, kept at `cached` for the next worker (written whole, then renamed into place). */
async function transpile(path, source, cached) {
  ts ??= require('typescript')
  const { outputText } = ts.transpileModule(source, {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  })
  const partial = `${cached}.${randomUUID()}.tmp`
  try {
    await mkdir(CACHE, { recursive: true })
    await writeFile(partial, outputText)
    await rename(partial, cached)
  } catch {
    await rm(partial, { force: true }).catch(() => {}) // a cache that cannot be written only costs time
  }
  return outputText
}
