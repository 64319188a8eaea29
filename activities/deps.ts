import type { Client } from '@temporalio/client';
import type { Config } from '../common/config';
import type { Knex } from '../common/db';
import type { Logger } from '../common/logger';

/** What activities need from the process: built once by the worker, passed in. */
export interface ActivityDeps {
  db: Knex;
  config: Config;
  logger: Logger;
  /** Needed by activities that signal or start workflows (reconciliation repairs). */
  temporal?: Client;
}
