import { decimalToMinor, minorToDecimal, currencyExponent } from '../../common/money';

describe('decimalToMinor', () => {
  test.each([
    [21.74, 'AED', 2174],
    [0.29, 'AED', 29],
    [1.15, 'HKD', 115],
    [0.57, 'AED', 57],
    [4.35, 'AED', 435],
    [1.005, 'KWD', 1005],
    [10.87, 'AED', 1087],
    [20.65, 'AED', 2065],
    [2.31, 'AED', 231],
    [1000, 'JPY', 1000],
    [0, 'AED', 0],
    ['21.740', 'AED', 2174],
    ['7', 'AED', 700],
    ['-3.10', 'AED', -310],
    [12.345, 'BHD', 12345],
  ])('%p %s → %p minor units', (amount, currency, expected) => {
    expect(decimalToMinor(amount, currency)).toBe(expected);
  });

  test('the values where floating-point multiplication is wrong come out exact', () => {
    // The naive way is wrong for these: guard that the premise of the test holds.
    expect(Math.floor(0.29 * 100)).toBe(28);
    expect(Math.floor(1.15 * 100)).toBe(114);
    expect(Math.floor(4.35 * 100)).toBe(434);
    expect(decimalToMinor(0.29, 'AED')).toBe(29);
    expect(decimalToMinor(1.15, 'AED')).toBe(115);
    expect(decimalToMinor(4.35, 'AED')).toBe(435);
  });

  test.each([
    [21.745, 'AED', /more fraction digits than AED allows \(2\)/],
    [1.5, 'JPY', /JPY allows \(0\)/],
    ['1e3', 'AED', /not a decimal/],
    [1e21, 'AED', /outside the exact decimal range/],
    [Number.NaN, 'AED', /not a finite number/],
    ['12,50', 'AED', /not a decimal/],
    ['99999999999999999999', 'AED', /too large/],
  ])('refuses %p %s', (amount, currency, message) => {
    expect(() => decimalToMinor(amount, currency)).toThrow(message);
  });
});

describe('minorToDecimal', () => {
  test.each([
    [2174, 'AED', '21.74'],
    [5, 'HKD', '0.05'],
    [1000, 'JPY', '1000'],
    [12345, 'KWD', '12.345'],
    [-310, 'AED', '-3.10'],
  ])('%p %s → %s', (minor, currency, expected) => {
    expect(minorToDecimal(minor, currency)).toBe(expected);
  });

  test('exponents follow ISO 4217', () => {
    expect([
      currencyExponent('AED'),
      currencyExponent('hkd'),
      currencyExponent('JPY'),
      currencyExponent('KWD'),
    ]).toEqual([2, 2, 0, 3]);
  });
});
