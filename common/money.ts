import { CancelflowError } from './errors';

/** Money is an integer count of minor units with its ISO 4217 currency; never a float. */
export interface Money {
  /** A safe integer (|minor| < 2^53): exact, and JSON-safe for workflow payloads. */
  minor: number;
  currency: string;
}

/** ISO 4217 exponents that differ from the default of 2. */
const EXPONENTS: Record<string, number> = {
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
};

export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

export class AmountError extends CancelflowError {
  override readonly name = 'AmountError';
  constructor(message: string) {
    super('AMOUNT_INVALID', message);
  }
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Converts a provider's decimal amount in major units to minor units exactly, by string digits,
 * never by floating-point multiplication (21.74 * 100 is 2173.9999999999995).
 *
 * A JSON number is accepted as the shortest round-trip text JavaScript gives it (`String(21.74)`
 * is "21.74"), which is the text the provider wrote whenever it wrote at most 15 significant
 * digits. More fraction digits than the currency has are refused, not rounded.
 */
export function decimalToMinor(amount: number | string, currency: string): number {
  const exponent = currencyExponent(currency);
  let text: string;
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount)) throw new AmountError(`amount ${amount} is not a finite number`);
    text = String(amount);
    if (/e/i.test(text)) throw new AmountError(`amount ${text} is outside the exact decimal range`);
  } else {
    text = amount.trim();
  }
  const match = DECIMAL.exec(text);
  if (!match) throw new AmountError(`amount "${text}" is not a decimal number`);
  const [, sign, whole = '0', fraction = ''] = match;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > exponent) {
    throw new AmountError(
      `amount ${text} has more fraction digits than ${currency.toUpperCase()} allows (${exponent})`,
    );
  }
  const digits = (whole + significant.padEnd(exponent, '0')).replace(/^0+(?=\d)/, '');
  const minor = Number(digits);
  if (!Number.isSafeInteger(minor)) throw new AmountError(`amount ${text} is too large`);
  return sign === '-' && minor !== 0 ? -minor : minor;
}

/** The decimal text of a minor-unit amount, for display and for providers that want major units. */
export function minorToDecimal(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new AmountError(`minor amount ${minor} is not a safe integer`);
  const exponent = currencyExponent(currency);
  const negative = minor < 0;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}
