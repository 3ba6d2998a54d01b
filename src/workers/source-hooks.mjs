/**
 * Module hooks for a worker started from TypeScript sources (under the test runner, which
 * transpiles the main thread's modules but not a worker's): `.js` imports that name a `.ts`
 * source resolve to it, and `.ts` modules are transpiled on load with the project's TypeScript.
 * The built package never loads this file: its workers are plain JavaScript.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const ts = createRequire(import.meta.url)('typescript')

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
  const { outputText } = ts.transpileModule(await readFile(path, 'utf8'), {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  })
  return { format: 'module', source: outputText, shortCircuit: true }
}
