/**
 * The WebAssembly global as the Parquet decoder uses it (src/jobs/io/wasm.ts): it is the runtime's
 * own, it compiles a module, and a trap's error class is the runtime's. The module bytes are the
 * smallest valid module, written by hand from the WebAssembly binary format (magic `\0asm`,
 * version 1), and one whose function is a single `unreachable`.
 */
import { describe, expect, it } from 'vitest'
import { Wasm } from '../../../src/jobs/io/wasm.js'

/** `\0asm`, version 1: a module with no sections. */
const EMPTY = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00)

/** A module exporting `trap: () => ()` whose body is `unreachable` (opcode 0x00). */
const TRAP = Uint8Array.of(
  ...EMPTY,
  // type section: one type, func () -> ()
  0x01,
  0x04,
  0x01,
  0x60,
  0x00,
  0x00,
  // function section: one function of type 0
  0x03,
  0x02,
  0x01,
  0x00,
  // export section: "trap", a function, index 0
  0x07,
  0x08,
  0x01,
  0x04,
  0x74,
  0x72,
  0x61,
  0x70,
  0x00,
  0x00,
  // code section: one body of 3 bytes: no locals, unreachable, end
  0x0a,
  0x05,
  0x01,
  0x03,
  0x00,
  0x00,
  0x0b,
)

describe('Wasm', () => {
  it('is the runtime’s WebAssembly global', () => {
    expect(Wasm).toBe((globalThis as unknown as { WebAssembly: unknown }).WebAssembly)
  })

  it('compiles a module from its bytes', () => {
    const module = new Wasm.Module(EMPTY)
    expect(module).toBeInstanceOf(Wasm.Module)
  })

  it('refuses bytes that are not a module, and a trap throws its RuntimeError', () => {
    expect(() => new Wasm.Module(Uint8Array.of(0x00, 0x61, 0x73, 0x6d))).toThrow()
    const { Instance } = (
      globalThis as unknown as { WebAssembly: { Instance: new (m: object) => { exports: Record<string, unknown> } } }
    ).WebAssembly
    const instance = new Instance(new Wasm.Module(TRAP))
    const trap = instance.exports.trap as () => void
    expect(trap).toThrow(Wasm.RuntimeError)
    expect(new Wasm.RuntimeError('x')).toBeInstanceOf(Error)
  })
})
