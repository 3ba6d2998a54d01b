/**
 * The store a configuration names: SQLite in the data folder (`storeUrl` empty, the default), or
 * PostgreSQL shared by several servers (`storeUrl` a `postgres://` or `postgresql://` URL).
 */
import type { Config } from '../config.js'
import { isPostgresUrl, STORE_URL_EXPECTED } from '../config-schema.js'
import { InvalidConfigError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { redactUrl } from './pg-pool.js'
import { PgStore } from './pg-store.js'
import { SqliteStore } from './sqlite-store.js'
import type { Store } from './types.js'

/** Open (creating or migrating) the store of `config`; `log` hears of its background troubles. */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'storeUrl'>,
  log: Logger = silentLogger,
): Promise<Store> {
  const url = config.storeUrl
  if (url === '') return SqliteStore.open(config.dataDir, log)
  if (isPostgresUrl(url)) return PgStore.open(url, log)
  throw new InvalidConfigError(`store URL ${redactUrl(url)}: ${STORE_URL_EXPECTED}`)
}

/** Where the store of `config` is, for messages: the data folder, or the URL without its password. */
export function storeLocation(config: Pick<Config, 'dataDir' | 'storeUrl'>): string {
  return config.storeUrl === '' ? config.dataDir : redactUrl(config.storeUrl)
}
