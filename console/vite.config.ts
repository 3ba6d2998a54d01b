/**
 * The web console's build: `npm run build` runs it after tsc; it writes dist/console/, which the
 * server reads at start (src/server/console.ts). Preact with its automatic JSX runtime; no CDN:
 * every script and style is bundled, with content hashes in the file names.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  logLevel: 'warn',
})
