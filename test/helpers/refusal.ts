/** What a call throws, for tests that check a refusal's class and words. */
import { expect } from 'vitest'

/** What `f` threw; fails the test when it returns instead. */
export function refusal(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a refusal')
}

/** Expect `f` to throw a `kind` whose message is exactly `message`. */
export function expectRefusal(f: () => unknown, kind: abstract new (...args: never[]) => Error, message: string): void {
  const e = refusal(f)
  expect(e).toBeInstanceOf(kind)
  expect(e.message).toBe(message)
}
