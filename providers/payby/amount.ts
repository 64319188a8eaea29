import { AmountError, minorToDecimal, type Money } from '../../common/money';
import { JsonDecimal } from './json-text';

/** PayBy amounts are Decimal(12, n): at most 12 digits before the decimal point. */
export const PAYBY_MAX_WHOLE_DIGITS = 12;

/**
 * A positive amount in minor units as PayBy's decimal major-unit text (2174 AED → "21.74"), by
 * digits (common/money's minorToDecimal), so the text read back with decimalToMinor is the same
 * integer. Refuses what PayBy cannot take rather than letting it round: zero or negative amounts,
 * non-integers, a currency that is not three letters, more than 12 whole digits.
 */
export function paybyAmountText(money: Money): string {
  if (!/^[A-Z]{3}$/.test(money.currency))
    throw new AmountError(`currency ${JSON.stringify(money.currency)} is not an ISO 4217 code`);
  if (!Number.isSafeInteger(money.minor) || money.minor <= 0)
    throw new AmountError(
      `amount ${money.minor} ${money.currency} is not a positive whole number of minor units`,
    );
  const text = minorToDecimal(money.minor, money.currency);
  const whole = text.split('.')[0] ?? '';
  if (whole.length > PAYBY_MAX_WHOLE_DIGITS)
    throw new AmountError(
      `amount ${text} ${money.currency} has more than ${PAYBY_MAX_WHOLE_DIGITS} whole digits`,
    );
  return text;
}

/** A PayBy Money for a request body: `{currency, amount}` with the amount written as exact text. */
export function paybyMoney(money: Money): { currency: string; amount: JsonDecimal } {
  return { currency: money.currency, amount: new JsonDecimal(paybyAmountText(money)) };
}
