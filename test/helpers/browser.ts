/**
 * A real browser for the console's tests: Debian's Chromium driven by playwright-core (root needs
 * `--no-sandbox`), axe-core's accessibility rules, and where screenshots go.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import { type Browser, chromium, type Page } from 'playwright-core'

const CHROMIUM = process.env.LASTMILE_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Whether Chromium is here. Without it the console's tests skip, except under
 * LASTMILE_REQUIRE_TOOLS=1 (CI), where a missing browser must fail rather than pass as a skip.
 */
export function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.LASTMILE_REQUIRE_TOOLS === '1')
    throw new Error(
      `LASTMILE_REQUIRE_TOOLS=1 but there is no Chromium at ${CHROMIUM}; Debian: apt-get install chromium`,
    )
  return false
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
}

/** The WCAG 2.1 A and AA violations axe rates serious or critical on `page`, one line each. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** Where the console's tests save their screenshots: reports/console/ (not committed). */
export function screenshotDir(): string {
  const dir = join(import.meta.dirname, '..', '..', 'reports', 'console')
  mkdirSync(dir, { recursive: true })
  return dir
}
