/**
 * The WebAssembly global, typed as far as the Parquet decoder uses it: the project's TypeScript
 * library (ES2023, no DOM) does not declare it.
 */
export const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      /** A compiled module: shared with worker threads, each instantiating its own. */
      Module: new (
        bytes: Uint8Array,
      ) => object
      /** What a trap throws (a Rust panic compiled to `unreachable`, a failed allocation). */
      RuntimeError: new (
        message?: string,
      ) => Error
    }
  }
).WebAssembly
