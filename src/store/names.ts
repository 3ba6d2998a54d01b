/**
 * The names clients choose or send for what lastmile keeps: workspaces, models, pipelines, and the
 * ids of assays, jobs, explanations and keys. One rule per kind, held here and checked where a
 * name comes in (the route table, before any handler runs; the registry, before anything is
 * created) and again wherever a name becomes part of a file path ({@link namedPath}), so that no
 * name (`..`, an encoded `/`, a NUL) can point outside the folder it belongs in.
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { InvalidRequestError } from '../errors.js'

/** What a name names; its rule and how an error message calls it. */
export type NameKind =
  | 'workspace'
  | 'model'
  | 'pipeline'
  | 'assay'
  | 'job'
  | 'explanation'
  | 'key'
  | 'version'
  | 'training-set'
  | 'optimization'

interface Rule {
  pattern: RegExp
  says: string
}

/** Models, pipelines, ids and versions: a letter or digit first, then letters, digits, `.`, `-`, `_`. */
const NAME: Rule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
  says: 'letters, digits, ., - and _, first a letter or digit, at most 128',
}
/** Workspaces are folder names on any file system and parts of URLs: lower case only. */
const WORKSPACE: Rule = {
  pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
  says: 'lower-case letters, digits, - and _, first a letter or digit, at most 63',
}

/** Exported training sets: the name the server gave the file (UTC time of the export, a random id). */
const TRAINING_SET: Rule = {
  pattern: /^\d{8}T\d{6}Z-[0-9a-f]{8}\.parquet$/,
  says: '<yyyymmdd>T<hhmmss>Z-<8 hex digits>.parquet, a name the server gave an export',
}

const KINDS: Record<NameKind, { rule: Rule; called: string }> = {
  workspace: { rule: WORKSPACE, called: 'workspace name' },
  model: { rule: NAME, called: 'model name' },
  pipeline: { rule: NAME, called: 'pipeline name' },
  assay: { rule: NAME, called: 'assay id' },
  job: { rule: NAME, called: 'job id' },
  explanation: { rule: NAME, called: 'explanation id' },
  key: { rule: NAME, called: 'key id' },
  version: { rule: NAME, called: 'version' },
  'training-set': { rule: TRAINING_SET, called: 'training set' },
  optimization: { rule: NAME, called: 'tuning run id' },
}

/** How a refused name is shown: quoted and escaped (it may hold control characters), and cut short. */
function shown(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)
}

/**
 * Throw an `InvalidRequestError` unless `name` follows the rule for `kind`.
 *
 * @example checkName('pipeline', '../teamb/secret') // throws: pipeline name "../teamb/secret" is not valid: …
 */
export function checkName(kind: NameKind, name: string): void {
  const { rule, called } = KINDS[kind]
  if (!rule.pattern.test(name)) throw new InvalidRequestError(`${called} ${shown(name)} is not valid: use ${rule.says}`)
}

/**
 * `root` joined with `parts`, each one path segment (no `/`, backslash, NUL, `.` or `..`), after
 * checking that the resolved path is inside `root`: the last guard before a file system call, for
 * paths built from anything that came from outside.
 */
export function within(root: string, ...parts: string[]): string {
  const path = join(root, ...parts)
  const rel = relative(resolve(root), resolve(path))
  const segments = parts.every((p) => p !== '' && p !== '.' && p !== '..' && !/[/\\\0]/.test(p))
  // Stryker disable next-line ConditionalExpression,StringLiteral: defence in depth — parts that are each one plain segment never resolve onto the root or above it, so the segment check alone decides today
  if (!segments || rel === '' || rel.split(sep)[0] === '..' || isAbsolute(rel)) {
    throw new InvalidRequestError(`${shown(parts.join('/'))} does not name a file inside its folder`)
  }
  return path
}

/**
 * The folder of a named thing under `root`: each name checked against its kind's rule, and the
 * result checked to stay inside `root`.
 *
 * @example namedPath(logsRoot, ['workspace', ws], ['pipeline', name]) // <logs>/<ws>/<name>
 */
export function namedPath(root: string, ...names: [kind: NameKind, name: string][]): string {
  for (const [kind, name] of names) checkName(kind, name)
  return within(root, ...names.map(([, name]) => name))
}
