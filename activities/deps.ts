import type { Config } from '../common/config';
import type { Knex } from '../common/db';
import type { Logger } from '../common/logger';

/**
 * What activities need from the process: built once by the worker, passed in. No Temporal client:
 * signals and starts are workflows' to give (orchestration belongs to workflows).
 */
export interface ActivityDeps {
  db: Knex;
  config: Config;
  logger: Logger;
}
