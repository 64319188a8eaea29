import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from '../errors';
import { Secret } from '../secret';
import type { SecretRef } from '../secret-ref';

/** Where secret references resolve, and where their problems are collected. */
export interface SecretContext {
  env: NodeJS.ProcessEnv;
  /** The config file's folder: `{"file": ...}` paths are relative to it. */
  baseDir: string;
  issues: ConfigIssue[];
}

export function resolveSecret(ref: SecretRef, at: string, ctx: SecretContext): Secret | undefined {
  if (typeof ref === 'string') return new Secret(ref);
  if ('env' in ref) {
    const value = ctx.env[ref.env];
    if (value === undefined || value === '') {
      ctx.issues.push({ path: at, message: `environment variable ${ref.env} is not set` });
      return undefined;
    }
    return new Secret(value);
  }
  const file = path.resolve(ctx.baseDir, ref.file);
  try {
    return new Secret(readFileSync(file, 'utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    ctx.issues.push({ path: at, message: `cannot read secret file ${file} (${reason})` });
    return undefined;
  }
}

export function checkPem(
  secret: Secret | undefined,
  kind: 'private' | 'public',
  at: string,
  ctx: SecretContext,
): void {
  if (!secret) return;
  try {
    const key = kind === 'private' ? createPrivateKey(secret.reveal()) : createPublicKey(secret.reveal());
    if (key.asymmetricKeyType !== 'rsa') {
      ctx.issues.push({ path: at, message: `must be an RSA key, got ${key.asymmetricKeyType}` });
    }
  } catch {
    // The parser's message may quote key material: say only what is wrong.
    ctx.issues.push({ path: at, message: `is not a valid PEM ${kind} key` });
  }
}
