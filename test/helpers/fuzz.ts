import { md5Sign } from '../../providers/unified/sign';

/**
 * Pieces for fuzzing seed-000 endpoints (test/integration/fuzz-endpoints.test.ts): parameter maps
 * kept as ordered entries (so a key can be given twice, `__proto__` is an ordinary name and the
 * order on the wire is the order generated), their JSON and form encodings, and a raw POST.
 */

export type Entries = Array<[string, unknown]>;

/** What a seed-000 signature takes of a value: strings as they are, numbers bare, others as JSON. */
export function plain(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** MD5-signs the entries (`sign` left out; the last of a name given twice, as a parser keeps it). */
export function signEntries(entries: Entries, key: string): string {
  return md5Sign(Object.fromEntries(entries.filter(([name]) => name !== 'sign')), key);
}

/** `name` written with every character as a `\uXXXX` escape: the same name to a JSON parser. */
export function escapedJsonName(name: string): string {
  let out = '';
  // Every UTF-16 unit, surrogate halves included.
  for (let i = 0; i < name.length; i++) out += `\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `"${out}"`;
}

/** A JSON object text of the entries in order, duplicates kept; `escape` names written escaped. */
export function jsonBody(entries: Entries, escape: ReadonlySet<number> = new Set()): string {
  const members = entries.map(
    ([name, value], i) =>
      `${escape.has(i) ? escapedJsonName(name) : JSON.stringify(name)}:${JSON.stringify(value) ?? 'null'}`,
  );
  return `{${members.join(',')}}`;
}

/** `s` with every lone surrogate replaced by U+FFFD, as UTF-8 (a form on the wire) carries it. */
export function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * The entries as a form delivers them: names and values as well-formed text (null dropped). Sign
 * these, not the originals: U+FFFD sorts elsewhere than the lone surrogate it replaced.
 */
export function asForm(entries: Entries): Entries {
  return entries
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([name, value]) => [wellFormed(name), wellFormed(plain(value))]);
}

/** An application/x-www-form-urlencoded text of the entries in order, duplicates kept. */
export function formBody(entries: Entries): string {
  const form = new URLSearchParams();
  for (const [name, value] of entries)
    if (value !== null && value !== undefined) form.append(name, plain(value));
  return form.toString();
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

/** POSTs raw bytes; no Content-Type header at all when `contentType` is undefined. */
export async function postRaw(url: string, body: string | Uint8Array, contentType?: string): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    // A Uint8Array body gets no default Content-Type (a string would be sent as text/plain).
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

/** A field's name as the API's messages show it (protocol.ts `label`). */
export function fieldLabel(name: string): string {
  if (name === '') return '(empty name)';
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

/** The top-level names a body carries, read the way the API reads it (form or JSON). */
export function namesIn(raw: string, contentType: string | undefined): string[] {
  if (contentType?.trim().toLowerCase().startsWith('application/x-www-form-urlencoded'))
    return [...new URLSearchParams(raw).keys()];
  try {
    const json: unknown = JSON.parse(raw);
    return json && typeof json === 'object' && !Array.isArray(json) ? Object.keys(json) : [];
  } catch {
    return [];
  }
}

/** Dotted-quad IPv4 as the seed's clientIp means it: four decimal octets 0-255, no leading zeros. */
export function isStrictIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}
