import { AmountError } from '../../common/money';

/**
 * A JSON number written as exactly this decimal text: amounts go on the wire from their digits,
 * never through a float (JSON.stringify would print whatever the nearest double prints as).
 */
export class JsonDecimal {
  constructor(readonly text: string) {
    if (!/^-?(0|[1-9]\d*)(\.\d+)?$/.test(text)) throw new AmountError(`"${text}" is not a JSON decimal`);
  }
}

export type JsonText =
  string | number | boolean | null | JsonDecimal | JsonText[] | { [key: string]: JsonText | undefined };

/**
 * JSON.stringify's output for plain JSON values (same key order, no whitespace, undefined members
 * left out), with each JsonDecimal written as its text: the bytes that get signed and sent.
 */
export function toJsonText(value: JsonText): string {
  if (value instanceof JsonDecimal) return value.text;
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new AmountError(`${value} is not JSON`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  const members = Object.entries(value).flatMap(([key, member]) =>
    member === undefined ? [] : [`${JSON.stringify(key)}:${toJsonText(member)}`],
  );
  return `{${members.join(',')}}`;
}
