/**
 * A tiny leveled logger writing one line per event to stderr. Core modules take a `Logger`
 * so that tests can silence or capture them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** A logger printing `level message {fields}` lines at or above `level`. */
export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Logger {
  const at =
    (l: LogLevel) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (ORDER[l] < ORDER[level]) return
      write(`[lastmile] ${l} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`)
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
