import { z } from 'zod';
import type { Secret } from './secret';

/**
 * How the config file names a secret: `{"env": "VAR"}`, `{"file": "path"}` or, for local
 * development only, the literal string. Resolved once at start (common/config) into a `Secret`.
 */
export const secretRef = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
  z.string().min(1, 'must not be empty'),
]);
export type SecretRef = z.output<typeof secretRef>;

/** `T` as the config file writes it, with the secret references `K` resolved. */
export type WithSecrets<T, K extends keyof T> = { [P in keyof T]: P extends K ? Secret : T[P] };
