/**
 * Validation expressions: a small, safe language evaluated per row over the request's inputs and
 * the pipeline's outputs, e.g. `out.probs[0] < 0.99 && in.x[3] >= 0`. Parsed once into closures;
 * never `eval`.
 *
 * Grammar (usual precedence, left to right):
 *   expr    := or ;  or := and ('||' and)* ;  and := cmp ('&&' cmp)*
 *   cmp     := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
 *   sum     := prod (('+' | '-') prod)* ;  prod := unary (('*' | '/' | '%') unary)*
 *   unary   := ('!' | '-') unary | primary
 *   primary := number | string | 'true' | 'false' | ref | fn '(' expr (',' expr)* ')' | '(' expr ')'
 *   ref     := ('in' | 'out') '.' name ('[' integer ']')*
 *   fn      := abs | min | max | sqrt | exp | log | isnan | sum | mean | len   (sum/mean/len take a ref to a whole row)
 */
import type { AnyTensor } from '../engine/tensor.js'
import { InvalidConfigError } from '../errors.js'

type Value = number | string | boolean | number[]
/** Column accessors for one row. */
interface RowContext {
  tensor(scope: 'in' | 'out', name: string): AnyTensor | undefined
  row: number
}
type Node = (ctx: RowContext) => Value

const TOKEN =
  /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|&&|\|\||[-+*/%<>!().,[\]]))/y

interface Token {
  kind: 'num' | 'str' | 'id' | 'op' | 'end'
  text: string
  pos: number
}

function tokenize(src: string): Token[] {
  const out: Token[] = []
  let pos = 0
  // Token by token, up to the end or to trailing whitespace.
  while (!/^\s*$/.test(src.slice(pos))) {
    TOKEN.lastIndex = pos
    const m = TOKEN.exec(src)
    if (!m) throw new Error(`unexpected character at ${pos}: '${src.slice(pos, pos + 10)}'`)
    const [whole, num, str, id, op] = m
    // Exactly one group matched: the token, after the whitespace before it.
    const at = pos + whole.length - (num ?? str ?? id ?? (op as string)).length
    if (num !== undefined) out.push({ kind: 'num', text: num, pos: at })
    else if (str !== undefined) out.push({ kind: 'str', text: str.slice(1, -1).replace(/\\(.)/g, '$1'), pos: at })
    else if (id !== undefined) out.push({ kind: 'id', text: id, pos: at })
    else out.push({ kind: 'op', text: op as string, pos: at })
    pos += whole.length
  }
  out.push({ kind: 'end', text: '', pos: src.length })
  return out
}

/**
 * A number operand (true/false count as 1/0). Errors raised while a row is evaluated only fail that
 * row (`check` swallows them), so their text is never shown and they need not name the operator.
 */
const num = (v: Value): number => {
  if (typeof v === 'number') return v
  if (typeof v === 'boolean') return v ? 1 : 0
  // Stryker disable next-line StringLiteral: a row-time error only fails the row; its text is never seen
  throw new Error(`needs a number, got ${JSON.stringify(v)}`)
}

/** Values of row `row` of a tensor (flattened), or undefined when absent. */
function rowValues(t: AnyTensor, row: number): Value[] {
  const width = t.dims.slice(1).reduce((a, b) => a * b, 1)
  const data = t.data as ArrayLike<number | bigint | string>
  const out: Value[] = []
  for (let i = row * width; i < (row + 1) * width; i++) {
    const v = data[i] as number | bigint | string
    out.push(typeof v === 'bigint' ? Number(v) : t.dtype === 'bool' ? v !== 0 : v)
  }
  return out
}

class Parser {
  private i = 0
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i] as Token
  }
  private next(): Token {
    return this.tokens[this.i++] as Token
  }
  private expect(text: string): void {
    const t = this.next()
    if (t.text !== text) throw new Error(`expected '${text}' at ${t.pos}, found '${t.text || 'end'}'`)
  }
  private accept(...ops: string[]): string | undefined {
    const t = this.peek()
    if (t.kind === 'op' && ops.includes(t.text)) {
      this.i++
      return t.text
    }
    return undefined
  }

  parse(): Node {
    const n = this.or()
    if (this.peek().kind !== 'end') throw new Error(`unexpected '${this.peek().text}' at ${this.peek().pos}`)
    return n
  }

  private or(): Node {
    let l = this.and()
    while (this.accept('||')) {
      const a = l
      const b = this.and()
      l = (c) => Boolean(a(c)) || Boolean(b(c))
    }
    return l
  }

  private and(): Node {
    let l = this.cmp()
    while (this.accept('&&')) {
      const a = l
      const b = this.cmp()
      l = (c) => Boolean(a(c)) && Boolean(b(c))
    }
    return l
  }

  private cmp(): Node {
    const l = this.sum()
    const op = this.accept('<', '<=', '>', '>=', '==', '!=')
    if (!op) return l
    const r = this.sum()
    switch (op) {
      case '==':
        return (c) => l(c) === r(c)
      case '!=':
        return (c) => l(c) !== r(c)
      case '<':
        return (c) => num(l(c)) < num(r(c))
      case '<=':
        return (c) => num(l(c)) <= num(r(c))
      case '>':
        return (c) => num(l(c)) > num(r(c))
      default:
        return (c) => num(l(c)) >= num(r(c))
    }
  }

  private sum(): Node {
    let l = this.prod()
    for (let op = this.accept('+', '-'); op; op = this.accept('+', '-')) {
      const a = l
      const b = this.prod()
      l = op === '+' ? (c) => num(a(c)) + num(b(c)) : (c) => num(a(c)) - num(b(c))
    }
    return l
  }

  private prod(): Node {
    let l = this.unary()
    for (let op = this.accept('*', '/', '%'); op; op = this.accept('*', '/', '%')) {
      const a = l
      const b = this.unary()
      const f =
        op === '*'
          ? (x: number, y: number) => x * y
          : op === '/'
            ? (x: number, y: number) => x / y
            : (x: number, y: number) => x % y
      l = (c) => f(num(a(c)), num(b(c)))
    }
    return l
  }

  private unary(): Node {
    if (this.accept('!')) {
      const a = this.unary()
      return (c) => !a(c)
    }
    if (this.accept('-')) {
      const a = this.unary()
      return (c) => -num(a(c))
    }
    return this.primary()
  }

  private primary(): Node {
    const t = this.next()
    if (t.kind === 'num') {
      const v = Number(t.text)
      return () => v
    }
    if (t.kind === 'str') return () => t.text
    if (t.kind === 'op' && t.text === '(') {
      const e = this.or()
      this.expect(')')
      return e
    }
    if (t.kind !== 'id') throw new Error(`unexpected '${t.text || 'end'}' at ${t.pos}`)
    if (t.text === 'true') return () => true
    if (t.text === 'false') return () => false
    if (t.text === 'in' || t.text === 'out') return this.ref(t.text)
    return this.call(t)
  }

  /**
   * `in.x[3]` → that element of the row; `in.x` → the scalar, or the whole row as a list; fewer
   * indices than the row has dimensions (`in.img[1]` of a [2, 3] row) → that sub-row as a list.
   */
  private ref(scope: 'in' | 'out'): Node {
    this.expect('.')
    const nameTok = this.next()
    if (nameTok.kind !== 'id') throw new Error(`expected a tensor name after '${scope}.' at ${nameTok.pos}`)
    const name = nameTok.text
    const indices: number[] = []
    while (this.accept('[')) {
      const idx = this.next()
      if (idx.kind !== 'num' || !Number.isInteger(Number(idx.text)))
        throw new Error(`expected an integer index at ${idx.pos}`)
      indices.push(Number(idx.text))
      this.expect(']')
    }
    return (c) => {
      const t = c.tensor(scope, name)
      // Stryker disable next-line ConditionalExpression,StringLiteral: a missing tensor fails the row either way (rowValues would throw on it); the text is never seen
      if (!t) throw new Error(`no ${scope}.${name}`)
      const values = rowValues(t, c.row)
      if (indices.length === 0) return values.length === 1 ? (values[0] as Value) : (values as number[])
      const rowDims = t.dims.slice(1)
      let flat = 0
      indices.forEach((ix, k) => {
        const d = rowDims[k]
        if (d === undefined || ix >= d)
          throw new Error(
            // Stryker disable next-line StringLiteral: a row-time error only fails the row; its text is never seen
            `${scope}.${name}[${indices.join('][')}] is out of range for a row of shape [${rowDims.join(',')}]`,
          )
        flat = flat * d + ix
      })
      if (indices.length === rowDims.length) return values[flat] as Value
      let size = 1
      for (let k = indices.length; k < rowDims.length; k++) size *= rowDims[k] as number
      return values.slice(flat * size, (flat + 1) * size) as number[]
    }
  }

  private call(t: Token): Node {
    // Own keys only: `toString(1)` or `constructor(1)` are unknown names, not Object.prototype's methods.
    const fn = Object.hasOwn(FUNCTIONS, t.text) ? FUNCTIONS[t.text] : undefined
    if (!fn)
      throw new Error(
        `unknown name '${t.text}' at ${t.pos}; use in.<input>, out.<output> or one of ${Object.keys(FUNCTIONS).join(', ')}`,
      )
    this.expect('(')
    const args: Node[] = [this.or()]
    while (this.accept(',')) args.push(this.or())
    this.expect(')')
    return (c) => fn(args.map((a) => a(c)))
  }
}

const list = (v: Value): number[] => (Array.isArray(v) ? v : [num(v)])
const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  abs: ([a]) => Math.abs(num(a as Value)),
  min: (args) => Math.min(...args.flatMap(list)),
  max: (args) => Math.max(...args.flatMap(list)),
  sqrt: ([a]) => Math.sqrt(num(a as Value)),
  exp: ([a]) => Math.exp(num(a as Value)),
  log: ([a]) => Math.log(num(a as Value)),
  isnan: ([a]) => Number.isNaN(num(a as Value)),
  sum: ([a]) => list(a as Value).reduce((x, y) => x + y, 0),
  mean: ([a]) => list(a as Value).reduce((x, y) => x + y, 0) / list(a as Value).length,
  len: ([a]) => list(a as Value).length,
}

export interface Validation {
  name: string
  source: string
  /** True when the row passes; a row whose evaluation fails (missing tensor, bad index) fails. */
  check(ctx: RowContext): boolean
}

/** Compile `{"name": "expression"}`; throws InvalidConfigError naming the validation and the problem. */
export function compileValidations(spec: Record<string, string>): Validation[] {
  return Object.entries(spec).map(([name, source]) => {
    let node: Node
    try {
      node = new Parser(tokenize(source)).parse()
    } catch (e) {
      // The parser throws only Errors (a very deep nesting's RangeError too).
      throw new InvalidConfigError(`validation '${name}': ${(e as Error).message} in "${source}"`)
    }
    return {
      name,
      source,
      check: (ctx) => {
        try {
          return Boolean(node(ctx))
        } catch {
          return false
        }
      },
    }
  })
}
