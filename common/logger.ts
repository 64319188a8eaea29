import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Secrets are `Secret` objects that print as `[redacted]`; the paths below
 * are a second line of defence for raw values that carry a credential by name.
 */
export function createLogger(level: string, name = 'cancelflow'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'key',
        '*.key',
        'privateKey',
        '*.privateKey',
        'password',
        '*.password',
        'headers.sign',
        'headers.authorization',
        '*.headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
