import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * PayBy: SHA256withRSA (PKCS#1 v1.5) over the exact UTF-8 bytes of the body, Base64.
 * Serialise once, sign those bytes, send those bytes; verify a response over its raw text.
 */

export function privateKeyFrom(pem: string): KeyObject {
  return createPrivateKey(pem);
}

export function publicKeyFrom(pem: string): KeyObject {
  return createPublicKey(pem);
}

export function rsaSign(body: Buffer | string, privateKey: KeyObject): string {
  return sign('sha256', typeof body === 'string' ? Buffer.from(body, 'utf8') : body, privateKey).toString(
    'base64',
  );
}

export function rsaVerify(
  body: Buffer | string,
  signature: string | undefined,
  publicKey: KeyObject,
): boolean {
  if (!signature || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return verify(
      'sha256',
      typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
      publicKey,
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false;
  }
}
