import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  compareCaseInsensitive,
  md5Sign,
  signEnvelope,
  signingString,
  verifyEnvelope,
  verifyMd5Sign,
} from '../../providers/unified/sign';

const KEY = 'testkey123';
const request = {
  mchNo: 'M1623984572',
  appId: '60cc09bce4b0f1c0b83761c9',
  payOrderId: 'P202106181104177050002',
  reqTime: '1624006009',
  version: '1.0',
  signType: 'MD5',
};

describe('Unified Cancel MD5 signature (PROVIDERS.md worked vectors)', () => {
  test('request vector: signing string and signature', () => {
    expect(signingString(request, KEY)).toBe(
      'appId=60cc09bce4b0f1c0b83761c9&mchNo=M1623984572&payOrderId=P202106181104177050002&reqTime=1624006009&signType=MD5&version=1.0&key=testkey123',
    );
    expect(md5Sign(request, KEY)).toBe('6CAF47A03783A664A268EA45772C54E1');
  });

  test('signEnvelope builds the worked request vector; verifyEnvelope accepts it and nothing altered', () => {
    const app = { mchNo: request.mchNo, appId: request.appId };
    const envelope = signEnvelope(app, KEY, { payOrderId: request.payOrderId, notifyUrl: undefined }, 0);
    // The envelope's own reqTime is "now" in ms; the vector's is given as a field (fields win).
    expect(envelope.reqTime).toBe('0');
    const vector = signEnvelope(app, KEY, { payOrderId: request.payOrderId, reqTime: request.reqTime });
    expect(vector).toEqual({ ...request, sign: '6CAF47A03783A664A268EA45772C54E1' });
    expect(verifyEnvelope(vector, KEY)).toBe(true);
    expect(verifyEnvelope({ ...vector, sign: String(vector.sign).toLowerCase() }, KEY)).toBe(true);
    expect(verifyEnvelope({ ...vector, payOrderId: 'P202106181104177050003' }, KEY)).toBe(false);
    expect(verifyEnvelope(vector, 'otherkey')).toBe(false);
    expect(verifyEnvelope({ ...vector, sign: undefined }, KEY)).toBe(false);
    expect('notifyUrl' in envelope).toBe(false);
  });

  test('empty, null and undefined values and `sign` itself are left out', () => {
    expect(
      md5Sign({ ...request, mchOrderNo: '', clientIp: null, notifyUrl: undefined, sign: 'X' }, KEY),
    ).toBe('6CAF47A03783A664A268EA45772C54E1');
  });

  test('the MD5 is over the UTF-8 bytes of the signing string, upper-case hex, for any text', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.string({ unit: 'binary' })), (params) => {
        const expected = createHash('md5')
          .update(Buffer.from(signingString(params, KEY), 'utf8'))
          .digest('hex')
          .toUpperCase();
        expect(md5Sign(params, KEY)).toBe(expected);
      }),
      { numRuns: 500 },
    );
    expect(md5Sign({ errMsg: '撤销成功 é 😀' }, KEY)).toBe(
      createHash('md5').update(`errMsg=撤销成功 é 😀&key=${KEY}`, 'utf8').digest('hex').toUpperCase(),
    );
  });

  test('response data vector (numbers unquoted, empty errCode/errMsg dropped)', () => {
    const data = {
      cancelOrderId: 'C202106181104177050002',
      state: 2,
      channelOrderNo: '2021061822001423031419593035',
      errCode: '',
      errMsg: '',
    };
    expect(md5Sign(data, KEY)).toBe('8E5A3C4E286DC4C8551404BE12C9BAA2');
  });

  test('notification vector', () => {
    const notification = {
      cancelOrderId: 'C202106181104177050002',
      payOrderId: 'P202106181104177050002',
      mchNo: 'M1621873433953',
      appId: '60cc09bce4b0f1c0b83761c9',
      payAmount: 5,
      currency: 'HKD',
      state: 2,
      channelOrderNo: '2021061822001423031419593035',
      errCode: '',
      errMsg: '',
      extraParam: '',
      createdAt: '1623985552769',
      successTime: '1623985554000',
      reqTime: '1623985554000',
    };
    expect(md5Sign(notification, KEY)).toBe('C768C63F3E06BF969F5DF12B728199B3');
  });

  test('0, false and whitespace-only values are kept', () => {
    expect(signingString({ a: 0, b: false, c: ' ' }, 'k')).toBe('a=0&b=false&c= &key=k');
  });

  test('fragments sort like Java CASE_INSENSITIVE_ORDER, not by case-sensitive key names', () => {
    // Whole fragments are compared: "a1=" < "a=" because '1' (0x31) < '=' (0x3D), and "a=" < "a_"
    // because '=' < '_'. Sorting key names would give a, a1, a_b, B; case-sensitively B would come first.
    expect(signingString({ B: '1', a: '2', a_b: '3', a1: '4' }, 'k')).toBe('a1=4&a=2&a_b=3&B=1&key=k');
    expect(compareCaseInsensitive('abc', 'ABD')).toBeLessThan(0);
    expect(compareCaseInsensitive('ab', 'abc')).toBeLessThan(0);
    expect(compareCaseInsensitive('ABC', 'abc')).toBe(0);
  });

  test("the ASCII fast path orders exactly like Java's char-by-char rule", () => {
    // The rule as Java writes it, one char at a time, for comparison.
    const java = (a: string, b: string): number => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        let c1 = a[i]!;
        let c2 = b[i]!;
        if (c1 === c2) continue;
        c1 = c1.toUpperCase();
        c2 = c2.toUpperCase();
        if (c1 === c2) continue;
        c1 = c1.toLowerCase();
        c2 = c2.toLowerCase();
        if (c1 !== c2) return c1.charCodeAt(0) - c2.charCodeAt(0);
      }
      return a.length - b.length;
    };
    const alphabet = 'aAbBzZ_[]^`{=&09é';
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const word = () =>
      Array.from({ length: 1 + (random() % 5) }, () => alphabet[random() % alphabet.length]).join('');
    for (let i = 0; i < 5_000; i++) {
      const a = word();
      const b = word();
      expect([a, b, Math.sign(compareCaseInsensitive(a, b))]).toEqual([a, b, Math.sign(java(a, b))]);
    }
  });

  test('verification is case-insensitive and refuses wrong, short and non-string signatures', () => {
    expect(verifyMd5Sign(request, '6caf47a03783a664a268ea45772c54e1', KEY)).toBe(true);
    expect(verifyMd5Sign(request, '6CAF47A03783A664A268EA45772C54E1', KEY)).toBe(true);
    expect(verifyMd5Sign(request, '6CAF47A03783A664A268EA45772C54E2', KEY)).toBe(false);
    expect(verifyMd5Sign(request, '6CAF47A0', KEY)).toBe(false);
    expect(verifyMd5Sign(request, undefined, KEY)).toBe(false);
    expect(verifyMd5Sign(request, '6CAF47A03783A664A268EA45772C54E1', 'otherkey')).toBe(false);
  });
});
