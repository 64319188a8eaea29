/** Reading a received body (JSON or form) into the flat parameters its MD5 signature covers, checked. */
import { ProtocolError, type FieldRule, type FieldRules } from './message-fields';

/**
 * Fields whose text is stored or queried as is (Postgres text cannot hold NUL). The others are
 * checked against config or a format first (mchNo/appId, reqTime, version, sign…).
 */
const NUL_REFUSED = new Set([
  'payOrderId',
  'mchOrderNo',
  'notifyUrl',
  'extParam',
  'clientIp',
  'channelExtra',
  'cancelOrderId',
]);

/** A field's name as an error message shows it: bounded, never empty. */
function label(name: string): string {
  if (name === '') return '(empty name)';
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

/**
 * A field outside the seed's list with an object or array value: signed as its JSON text. A value
 * nested deeper than JSON.stringify can walk (thousands of levels; JSON.parse took it) is refused,
 * naming it, instead of failing the request as our error.
 */
function nestedText(name: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    throw new ProtocolError('BAD_FIELD', label(name), 'is nested too deeply');
  }
}

function ownRule(rules: FieldRules, name: string): FieldRule | undefined {
  return Object.hasOwn(rules, name) ? rules[name] : undefined;
}

/** The end of the JSON string starting at `start` (its opening quote): the index after its closing quote. */
function stringEnd(raw: string, start: number): number {
  for (let i = start + 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return raw.length;
}

/**
 * Calls `visit(start, end)` with the span (quotes included) of each name of the top-level object of
 * a JSON object text that already parsed, repeats included, in order, until `visit` returns true.
 */
function eachTopLevelName(raw: string, visit: (start: number, end: number) => boolean | void): void {
  let depth = 0;
  let expectName = true;
  for (let i = raw.indexOf('{') + 1; i < raw.length;) {
    const c = raw.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(raw, i);
      if (depth === 0 && expectName) {
        if (visit(i, end)) return;
        expectName = false;
      }
      i = end;
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 0) expectName = true;
    i++;
  }
}

/**
 * How many names the top-level object gives, repeats included, without reading any of them.
 * JSON.parse keeps one property per distinct name, so the text repeats a name exactly when this
 * is more than the parsed object's own keys: the common case (no repeat) costs one scan and no
 * allocation; {@link duplicateJsonName} then names the repeat.
 */
export function topLevelNameCount(raw: string): number {
  let count = 0;
  eachTopLevelName(raw, () => {
    count++;
  });
  return count;
}

/**
 * The first name given twice in a JSON object text that already parsed (JSON.parse keeps the last,
 * other readers the first: which one was signed is ambiguous).
 */
export function duplicateJsonName(raw: string): string | undefined {
  const seen = new Set<string>();
  let repeated: string | undefined;
  eachTopLevelName(raw, (start, end) => {
    const name = JSON.parse(raw.slice(start, end)) as string;
    if (seen.has(name)) repeated = name;
    seen.add(name);
    return repeated !== undefined;
  });
  return repeated;
}

function bodyEntries(raw: string, contentType: string | undefined): Array<[string, unknown]> {
  if (contentType?.trim().toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const entries = [...new URLSearchParams(raw).entries()];
    const seen = new Set<string>();
    for (const [name] of entries) {
      if (seen.has(name)) throw new ProtocolError('BAD_FIELD', label(name), 'is given more than once');
      seen.add(name);
    }
    return entries;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ProtocolError('BAD_BODY', 'body', 'is not valid JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ProtocolError('BAD_BODY', 'body', 'must be a JSON object');
  const entries = Object.entries(json);
  if (topLevelNameCount(raw) !== entries.length) {
    const duplicate = duplicateJsonName(raw);
    if (duplicate !== undefined)
      throw new ProtocolError('BAD_FIELD', label(duplicate), 'is given more than once');
  }
  return entries;
}

/**
 * A received body (JSON or form) as flat strings, what its MD5 signature covers, with the fields of
 * `rules` checked: presence, type, length and their own rule. Null values are dropped; a JSON number
 * is read only for `long` fields; fields not in `rules` are kept (they are signed), non-strings as
 * their JSON text. Throws a {@link ProtocolError}.
 */
export function readParams(
  raw: string,
  contentType: string | undefined,
  rules: FieldRules,
): Record<string, string> {
  if (raw.trim() === '') throw new ProtocolError('BAD_BODY', 'body', 'is empty');
  const params = new Map<string, string>();
  for (const [name, value] of bodyEntries(raw, contentType)) {
    if (value === null || value === undefined) continue;
    const rule = ownRule(rules, name);
    // A field of the seed's (we store them; Postgres text cannot hold NUL) refuses NUL, naming it.
    // Other fields are only signed, never stored: the signature decides about them.
    if (rule && NUL_REFUSED.has(name) && typeof value === 'string' && value.includes('\u0000'))
      throw new ProtocolError('BAD_FIELD', label(name), 'must not contain a NUL character');
    if (typeof value === 'string') params.set(name, value);
    else if (typeof value === 'number' && rule?.long && Number.isSafeInteger(value))
      params.set(name, String(value));
    else if (rule)
      throw new ProtocolError(
        'BAD_FIELD',
        name,
        rule.long ? 'must be a number or digit string' : 'must be a string',
      );
    else params.set(name, nestedText(name, value));
  }
  for (const [name, rule] of Object.entries(rules)) {
    const value = params.get(name);
    if (value === undefined || value === '') {
      if (rule.required) throw new ProtocolError('BAD_FIELD', name, 'is required');
      continue;
    }
    if (rule.max !== undefined && value.length > rule.max)
      throw new ProtocolError('BAD_FIELD', name, `must be at most ${rule.max} characters`);
    const reason = rule.check?.(value);
    if (reason) throw new ProtocolError('BAD_FIELD', name, reason);
  }
  // fromEntries defines every name as an own property (`__proto__` included).
  return Object.fromEntries(params);
}

/** A seed-000 body as flat string parameters: JSON or application/x-www-form-urlencoded. */
export function parseParams(
  raw: string,
  contentType: string | undefined,
): Record<string, string> | undefined {
  if (contentType?.toLowerCase().includes('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(raw));
  try {
    const json = JSON.parse(raw) as unknown;
    if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
    return Object.fromEntries(
      Object.entries(json as Record<string, unknown>)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  } catch {
    return undefined;
  }
}
