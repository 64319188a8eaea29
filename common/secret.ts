import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A resolved secret (app key, private key). It never prints: JSON, string conversion and
 * `util.inspect` all give `[redacted]`, so a secret that slips into a log line, an error or a
 * database column is harmless. Call `reveal()` only at the point of use (signing).
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
