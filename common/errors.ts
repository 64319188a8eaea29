/**
 * Errors carry a fixed `name`, a stable machine-readable `code` and an optional `cause`,
 * in the style of the Temporal SDK: callers branch on `code`, people read `message`.
 */
export class CancelflowError extends Error {
  override readonly name: string = 'CancelflowError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface ConfigIssue {
  /** Path of the offending field, e.g. `accounts[1].privateKey`. */
  path: string;
  message: string;
}

export class ConfigError extends CancelflowError {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(source: string, issues: ConfigIssue[]) {
    super(
      'CONFIG_INVALID',
      `Invalid configuration (${source}):\n` +
        issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n'),
    );
    this.issues = issues;
  }
}
