import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { currencyExponent, decimalToMinor, minorToDecimal } from '../../common/money';
import type { HttpAnswer } from '../../providers/http';
import { paybyAmountText, paybyMoney, PAYBY_MAX_WHOLE_DIGITS } from '../../providers/payby/amount';
import { classifyPaybyAnswer, type PaybyAnswerContext } from '../../providers/payby/classify';
import { buildPaybyRefundQuery, buildPaybyRefundRequest } from '../../providers/payby/follow-up';
import {
  classifyOrderQuery,
  classifyRefundAnswer,
  classifyRevokeAnswer,
  type RefundAnswerContext,
} from '../../providers/payby/follow-up-classify';
import { JsonDecimal, toJsonText, type JsonText } from '../../providers/payby/json-text';
import { privateKeyFrom, publicKeyFrom, rsaVerify } from '../../providers/payby/sign';
import type { FollowUpOutcome, SignatureVerdict } from '../../providers/types';
import { paybyBehaviourOf, scenarioOf } from '../../sandbox/scenarios';
import { dayIn } from '../../workflows/follow-up';

const KEYS = path.resolve(__dirname, '..', 'fixtures', 'keys');
const merchantPrivate = privateKeyFrom(readFileSync(path.join(KEYS, 'merchant-private.pem'), 'utf8'));
const merchantPublic = publicKeyFrom(readFileSync(path.join(KEYS, 'merchant-public.pem'), 'utf8'));

const RECEIVED_AT = 1_700_000_000_123;
const PAID_AT = 1_699_990_000_000;
const ASKED: PaybyAnswerContext = { order: { mchOrderNo: 'M1' }, receivedAt: RECEIVED_AT };
const REFUND: RefundAnswerContext = {
  refundMerchantOrderNo: 'R1',
  order: { mchOrderNo: 'M1', payOrderId: '131422372621002238' },
  amount: { minor: 2174, currency: 'AED' },
  receivedAt: RECEIVED_AT,
};
const NAMES: Record<string, string> = {
  '0': 'SUCCESS',
  '400': 'INVALID_PARAMETER',
  '403': 'UNAUTHORIZED',
  '601': 'RISK_FAIL',
  '62002': 'ORDER_FAILURE',
  '62004': 'MERCHANT_ORDER_NO_NOT_EXIST',
  '62006': 'REFUND_AMOUNT_EXCEEDED',
  '62015': 'ORDER_NOT_PAID',
  '62017': 'REFUND_MERCHANT_ORDER_NO_EXIST',
  '62035': 'ORDER_NO_NOT_EXIST',
  '62036': 'MERCHANT_DEVICE_NOT_EXIST',
  '62038': 'INVALID_SECONDARY_MERCHANT',
  '62039': 'REVOKE_FAILURE',
  '62040': 'ACQUIRE_ORDER_REVOKED',
  '62041': 'ACQUIRE_ORDER_REFUNDED',
  '62045': 'REFUND_REJECTED',
  '62046': 'REVOKE_REJECTED',
};

function http(body: unknown, status = 200): HttpAnswer {
  return {
    ok: true,
    status,
    headers: {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
    latencyMs: 1,
  };
}
function payby(code: string, body?: unknown, applyStatus = code === '0' ? 'SUCCESS' : 'FAIL') {
  return { head: { applyStatus, code, msg: NAMES[code] ?? 'x' }, ...(body ? { body } : {}) };
}
function acquireOrder(status: string, extra: Record<string, unknown> = {}) {
  return {
    acquireOrder: {
      merchantOrderNo: 'M1',
      orderNo: '131422372621002238',
      status,
      paymentInfo: {
        paidAmount: { currency: 'AED', amount: 21.74 },
        paidTime: PAID_AT,
        payChannel: 'BALANCE',
      },
      totalAmount: { currency: 'AED', amount: 21.74 },
      revoked: 'false',
      ...extra,
    },
  };
}
function refundOrder(status: string, extra: Record<string, unknown> = {}) {
  return {
    refundOrder: {
      refundMerchantOrderNo: 'R1',
      orderNo: '191405406113002297',
      originMerchantOrderNo: 'M1',
      status,
      amount: { currency: 'AED', amount: 21.74 },
      ...extra,
    },
    refundSummary: {
      acquireAmount: { currency: 'AED', amount: 21.74 },
      remainRefundAmount: { currency: 'AED', amount: 0 },
    },
  };
}
const revoke = (answer: HttpAnswer, signature: SignatureVerdict = 'valid', context = ASKED) =>
  classifyRevokeAnswer(answer, signature, context);
const placed = (answer: HttpAnswer, signature: SignatureVerdict = 'valid', context = REFUND) =>
  classifyRefundAnswer('refund', answer, signature, context);
const queried = (answer: HttpAnswer, signature: SignatureVerdict = 'valid', context = REFUND) =>
  classifyRefundAnswer('refund-query', answer, signature, context);

/** The answers every PayBy API classifies alike, with what each must give. */
const SHARED: Array<[string, HttpAnswer, SignatureVerdict, Partial<FollowUpOutcome>]> = [
  [
    'transport',
    { ok: false, error: 'ECONNRESET: socket hang up', code: 'ECONNRESET', latencyMs: 1 },
    'not-checked',
    { kind: 'unknown', code: 'ECONNRESET' },
  ],
  ['HTTP 500', http(payby('500'), 500), 'missing', { kind: 'unknown', code: 'HTTP_500' }],
  ['HTTP 502 empty', http('', 502), 'missing', { kind: 'unknown', code: 'HTTP_502' }],
  ['empty body', http(''), 'missing', { kind: 'unknown' }],
  ['not JSON', http('<html>'), 'missing', { kind: 'unknown' }],
  ['not an envelope', http({ code: 0 }), 'valid', { kind: 'unknown' }],
  ['402', http(payby('402'), 402), 'missing', { kind: 'unknown', code: '402' }],
  ['404', http(payby('404'), 404), 'missing', { kind: 'unknown', code: '404' }],
  ['504 in the head', http(payby('504')), 'missing', { kind: 'unknown', code: '504' }],
  [
    'REQUESTTIME_TOO_EARLY',
    http({ head: { applyStatus: 'FAIL', code: '400', msg: 'REQUESTTIME_TOO_EARLY' } }),
    'missing',
    { kind: 'unknown', code: 'REQUESTTIME' },
  ],
  [
    '400 INVALID_PARAMETER',
    http(payby('400')),
    'missing',
    { kind: 'misconfigured', code: '400', message: 'INVALID_PARAMETER' },
  ],
  ['403', http(payby('403')), 'missing', { kind: 'misconfigured', code: '403', message: 'UNAUTHORIZED' }],
  [
    'applyStatus ERROR',
    http(payby('400', undefined, 'ERROR')),
    'missing',
    { kind: 'misconfigured', code: '400' },
  ],
  ['unrecognised code', http(payby('77777')), 'valid', { kind: 'unknown', code: '77777' }],
];

describe('PayBy revokeOrder classification', () => {
  test('signed 0 with FAILURE and revoked "true" → done revoked, with the order facts', () => {
    expect(revoke(http(payby('0', acquireOrder('FAILURE', { revoked: 'true' }))))).toEqual({
      kind: 'done',
      effect: 'revoked',
      successTime: RECEIVED_AT,
      payOrderId: '131422372621002238',
      mchOrderNo: 'M1',
      amount: { minor: 2174, currency: 'AED' },
    });
  });
  test('FAILURE without revoked: the order was unpaid and is cancelled → done cancelled', () => {
    expect(revoke(http(payby('0', acquireOrder('FAILURE', { paymentInfo: undefined }))))).toMatchObject({
      kind: 'done',
      effect: 'cancelled',
    });
  });
  test('answered, but the order does not show it yet → pending (confirm with getOrder)', () => {
    for (const status of ['PAID_SUCCESS', 'SETTLED', 'CREATED'])
      expect(revoke(http(payby('0', acquireOrder(status))))).toMatchObject({
        kind: 'pending',
        reason: expect.stringContaining(status),
      });
  });
  test.each(['62004', '62035', '62039', '62040', '62041', '62046'])(
    '%s → refused with PayBy code and message',
    (code) => {
      expect(revoke(http(payby(code)))).toEqual({ kind: 'refused', code, message: NAMES[code] });
    },
  );
  test('601 RISK_FAIL refuses a revoke, even unsigned (a global code)', () => {
    expect(revoke(http(payby('601')), 'missing')).toEqual({
      kind: 'refused',
      code: '601',
      message: 'RISK_FAIL',
    });
  });
  test('a business answer that is not signed is never believed', () => {
    for (const verdict of ['missing', 'invalid', 'not-checked'] as const) {
      expect(revoke(http(payby('0', acquireOrder('FAILURE', { revoked: 'true' }))), verdict)).toMatchObject({
        kind: 'unknown',
        code: 'BAD_SIGNATURE',
      });
      expect(revoke(http(payby('62041')), verdict)).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });
    }
  });
  test('an answer about another order → unknown MISADDRESSED, whatever it says', () => {
    expect(
      revoke(http(payby('0', acquireOrder('FAILURE', { revoked: 'true', merchantOrderNo: 'M2' })))),
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED', reason: expect.stringMatching(/"M1".*"M2"/) });
    expect(
      revoke(http(payby('0', acquireOrder('FAILURE', { revoked: 'true' }))), 'valid', {
        order: { payOrderId: '131422372621002239' },
        receivedAt: RECEIVED_AT,
      }),
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(revoke(http(payby('62041', acquireOrder('FAILURE', { merchantOrderNo: 'M9' }))))).toMatchObject({
      kind: 'unknown',
      code: 'MISADDRESSED',
    });
  });
  test('contradictory or malformed orders → unknown', () => {
    expect(revoke(http(payby('0', acquireOrder('CREATED', { revoked: 'true' }))))).toMatchObject({
      kind: 'unknown',
      reason: expect.stringMatching(/contradictory/),
    });
    expect(revoke(http(payby('0', acquireOrder('FAILURE', { revoked: 'maybe' }))))).toMatchObject({
      kind: 'unknown',
    });
    expect(revoke(http(payby('0', acquireOrder('REVOKED'))))).toMatchObject({ kind: 'unknown' });
    expect(revoke(http(payby('0')))).toMatchObject({ kind: 'unknown' });
    expect(revoke(http(payby('0', acquireOrder('FAILURE'), 'FAIL')))).toMatchObject({ kind: 'unknown' });
  });
  test.each(SHARED)('%s → as for every PayBy answer', (_name, answer, verdict, expected) => {
    expect(revoke(answer, verdict)).toMatchObject(expected);
    expect(placed(answer, verdict)).toMatchObject(expected);
    expect(queried(answer, verdict)).toMatchObject(expected);
    expect(classifyOrderQuery(answer, verdict, ASKED).revoke).toMatchObject(expected);
  });
});

describe('PayBy getOrder for a follow-up: payment facts and the revoke view', () => {
  const query = (answer: HttpAnswer, signature: SignatureVerdict = 'valid', context = ASKED) =>
    classifyOrderQuery(answer, signature, context);

  test('paid: paidTime and revoked in the payment facts; the revoke has not taken effect', () => {
    expect(query(http(payby('0', acquireOrder('PAID_SUCCESS'))))).toEqual({
      outcome: {
        kind: 'refused',
        state: 3,
        code: '62001',
        message: 'ORDER_PAID',
        payOrderId: '131422372621002238',
        mchOrderNo: 'M1',
        amount: { minor: 2174, currency: 'AED' },
      },
      payment: {
        status: 'PAID_SUCCESS',
        revoked: false,
        paidTime: PAID_AT,
        paidAmount: { minor: 2174, currency: 'AED' },
        payOrderId: '131422372621002238',
        mchOrderNo: 'M1',
        amount: { minor: 2174, currency: 'AED' },
      },
      revoke: { kind: 'resubmit', authoritative: true, reason: expect.stringContaining('PAID_SUCCESS') },
    });
  });
  test('revoked: done, and the facts say so', () => {
    const answer = query(http(payby('0', acquireOrder('FAILURE', { revoked: 'true' }))));
    expect(answer.payment).toMatchObject({ status: 'FAILURE', revoked: true, paidTime: PAID_AT });
    expect(answer.revoke).toMatchObject({ kind: 'done', effect: 'revoked', successTime: RECEIVED_AT });
  });
  test('paidTime as a digit string is read; absent or junk is left out', () => {
    const withPaid = (paymentInfo: unknown) =>
      query(http(payby('0', acquireOrder('PAID_SUCCESS', { paymentInfo })))).payment;
    expect(withPaid({ paidTime: String(PAID_AT) })).toMatchObject({ paidTime: PAID_AT });
    for (const junk of [undefined, {}, { paidTime: 'yesterday' }, { paidTime: -1 }, { paidTime: 1.5 }, 'x'])
      expect(withPaid(junk)).not.toHaveProperty('paidTime');
  });
  test('paidAmount (what the payer paid, less than the total with a discount) is read exactly; absent or junk is left out', () => {
    const withPaid = (paymentInfo: unknown) =>
      query(http(payby('0', acquireOrder('PAID_SUCCESS', { paymentInfo })))).payment;
    expect(withPaid({ paidAmount: { currency: 'AED', amount: '20.10' }, paidTime: PAID_AT })).toMatchObject({
      paidAmount: { minor: 2010, currency: 'AED' },
      amount: { minor: 2174, currency: 'AED' },
    });
    for (const junk of [
      undefined,
      {},
      { paidAmount: { currency: 'AED' } },
      { paidAmount: { currency: 'AED', amount: '20.105' } },
      { paidAmount: { currency: 'AED', amount: -1 } },
      { paidAmount: { currency: 'DIRHAM', amount: 1 } },
      { paidAmount: 20 },
    ])
      expect(withPaid(junk)).not.toHaveProperty('paidAmount');
  });
  test('the cancel outcome is exactly classifyPaybyAnswer("query")', () => {
    const answers: Array<[HttpAnswer, SignatureVerdict]> = [
      [http(payby('0', acquireOrder('FAILURE', { revoked: 'true' }))), 'valid'],
      [http(payby('0', acquireOrder('CREATED'))), 'valid'],
      [http(payby('0', acquireOrder('SETTLED'))), 'missing'],
      [http(payby('62004')), 'valid'],
      [http(payby('601')), 'missing'],
      [http('', 500), 'missing'],
    ];
    for (const [answer, verdict] of answers)
      expect(query(answer, verdict).outcome).toEqual(classifyPaybyAnswer('query', answer, verdict, ASKED));
  });
  test('no payment facts from an unverified or misaddressed answer; not found refuses a revoke', () => {
    expect(query(http(payby('0', acquireOrder('PAID_SUCCESS'))), 'invalid').payment).toBeUndefined();
    expect(
      query(http(payby('0', acquireOrder('PAID_SUCCESS', { merchantOrderNo: 'M2' })))).payment,
    ).toBeUndefined();
    expect(query(http(payby('62004'))).revoke).toEqual({
      kind: 'refused',
      code: '62004',
      message: 'MERCHANT_ORDER_NO_NOT_EXIST',
    });
    expect(query(http(payby('601')), 'missing').revoke).toMatchObject({ kind: 'unknown', code: '601' });
  });
});

describe('PayBy refund classification', () => {
  test('SUCCESS and REFUNDED_SETTLED → done refunded, with PayBy refund number and exact amount', () => {
    for (const status of ['SUCCESS', 'REFUNDED_SETTLED'] as const) {
      const expected = {
        kind: 'done',
        effect: 'refunded',
        successTime: RECEIVED_AT,
        refund: {
          refundMerchantOrderNo: 'R1',
          refundOrderNo: '191405406113002297',
          status,
          amount: { minor: 2174, currency: 'AED' },
        },
      };
      expect(placed(http(payby('0', refundOrder(status))))).toEqual(expected);
      expect(queried(http(payby('0', refundOrder(status))))).toEqual(expected);
    }
  });
  test('CREATED → pending; FAILURE → refused with failCode / failDes (or FAILURE)', () => {
    expect(queried(http(payby('0', refundOrder('CREATED'))))).toMatchObject({
      kind: 'pending',
      refund: { status: 'CREATED', refundOrderNo: '191405406113002297' },
    });
    expect(
      queried(http(payby('0', refundOrder('FAILURE', { failCode: '62045', failDes: 'REFUND_REJECTED' })))),
    ).toMatchObject({
      kind: 'refused',
      code: '62045',
      message: 'REFUND_REJECTED',
      refund: { status: 'FAILURE' },
    });
    expect(queried(http(payby('0', refundOrder('FAILURE', { failCode: 504 }))))).toMatchObject({
      code: '504',
      message: 'refund FAILURE',
    });
    expect(queried(http(payby('0', refundOrder('FAILURE'))))).toMatchObject({ code: 'FAILURE' });
  });
  test.each(['62002', '62004', '62006', '62015', '62035', '62040', '62041', '62045'])(
    'placeOrder %s → refused with PayBy code and message',
    (code) => {
      expect(placed(http(payby(code)))).toEqual({ kind: 'refused', code, message: NAMES[code] });
    },
  );
  test('placeOrder 62017 (the refund id exists) → pending: query it, never place another', () => {
    expect(placed(http(payby('62017')))).toMatchObject({
      kind: 'pending',
      reason: expect.stringMatching(/"R1".*62017.*query it/),
    });
    expect(queried(http(payby('62017')))).toMatchObject({ kind: 'unknown', code: '62017' });
  });
  test('placeOrder 62036 / 62038 → misconfigured; 601 refuses a refund, not a query', () => {
    expect(placed(http(payby('62036')))).toMatchObject({ kind: 'misconfigured', code: '62036' });
    expect(placed(http(payby('62038')))).toMatchObject({ kind: 'misconfigured', code: '62038' });
    expect(placed(http(payby('601')), 'missing')).toMatchObject({ kind: 'refused', code: '601' });
    expect(queried(http(payby('601')), 'missing')).toMatchObject({ kind: 'unknown', code: '601' });
  });
  test('refund query: no refund with our id (signed 62004 / 62035) → resubmit; unsigned → unknown', () => {
    for (const code of ['62004', '62035'])
      expect(queried(http(payby(code)))).toMatchObject({
        kind: 'resubmit',
        authoritative: true,
        reason: expect.stringContaining('never placed'),
      });
    expect(queried(http(payby('62004')), 'missing')).toMatchObject({
      kind: 'unknown',
      code: 'BAD_SIGNATURE',
    });
  });
  test('an unsigned business answer is never believed', () => {
    for (const verdict of ['missing', 'invalid'] as const) {
      expect(placed(http(payby('0', refundOrder('SUCCESS'))), verdict)).toMatchObject({
        kind: 'unknown',
        code: 'BAD_SIGNATURE',
      });
      expect(placed(http(payby('62040')), verdict)).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });
    }
  });
  test('another refund id, another origin order or another amount → unknown MISADDRESSED', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ refundMerchantOrderNo: 'R2' }, /another refund.*"R1".*"R2"/],
      [{ refundMerchantOrderNo: undefined }, /another refund/],
      [{ originMerchantOrderNo: 'M2' }, /another order.*"M1".*"M2"/],
      [{ originOrderNo: '131422372621002239' }, /another order/],
      [{ amount: { currency: 'AED', amount: 21.75 } }, /2174 AED.*2175 AED/],
      [{ amount: { currency: 'KWD', amount: 2.174 } }, /2174 KWD/],
    ];
    for (const [extra, reason] of cases) {
      expect(placed(http(payby('0', refundOrder('SUCCESS', extra))))).toMatchObject({
        kind: 'unknown',
        code: 'MISADDRESSED',
        reason: expect.stringMatching(reason),
      });
      expect(queried(http(payby('62040', refundOrder('SUCCESS', extra))))).toMatchObject({
        code: 'MISADDRESSED',
      });
    }
    // What we do not know is not checked: a query by our refund id alone.
    expect(
      queried(http(payby('0', refundOrder('SUCCESS', { originMerchantOrderNo: 'M2' }))), 'valid', {
        refundMerchantOrderNo: 'R1',
        receivedAt: RECEIVED_AT,
      }),
    ).toMatchObject({ kind: 'done' });
  });
  test('code 0 without a readable refundOrder → unknown', () => {
    expect(placed(http(payby('0')))).toMatchObject({ kind: 'unknown' });
    expect(placed(http(payby('0', refundOrder('REFUNDED'))))).toMatchObject({
      kind: 'unknown',
      reason: expect.stringMatching(/malformed refundOrder: status/),
    });
    expect(placed(http(payby('0', refundOrder('SUCCESS'), 'FAIL')))).toMatchObject({ kind: 'unknown' });
  });
});

describe('follow-up classifier properties', () => {
  const verdicts = fc.constantFrom<SignatureVerdict>(
    'valid',
    'valid',
    'valid',
    'invalid',
    'missing',
    'not-checked',
  );
  // Weighted towards the answers that can settle something, so every kind is met in every run.
  const codes = fc.oneof(
    { weight: 3, arbitrary: fc.constant('0') },
    fc.constantFrom('400', '402', '601', '62004', '62017', '62035', '62039', '62041', '62046', '7'),
  );
  const refundRecord = fc.record(
    {
      refundMerchantOrderNo: fc.constantFrom('R1', 'R1', 'R1', 'R2', undefined),
      orderNo: fc.constantFrom('191', undefined),
      originMerchantOrderNo: fc.constantFrom('M1', 'M2', undefined),
      status: fc.constantFrom('CREATED', 'REFUNDED_SETTLED', 'SUCCESS', 'FAILURE', 'X'),
      amount: fc.constantFrom(
        { currency: 'AED', amount: 21.74 },
        { currency: 'AED', amount: 1 },
        undefined,
        'x',
      ),
    },
    { requiredKeys: [] },
  );
  const orderRecord = fc.record(
    {
      merchantOrderNo: fc.constantFrom('M1', 'M1', 'M1', 'M2', undefined),
      status: fc.constantFrom('CREATED', 'PAID_SUCCESS', 'SETTLED', 'FAILURE', 'X'),
      revoked: fc.constantFrom('true', 'false', undefined, 'maybe'),
    },
    { requiredKeys: [] },
  );
  const envelope = (body: fc.Arbitrary<unknown>) =>
    fc
      .record({ code: codes, applyStatus: fc.constantFrom('SUCCESS', 'SUCCESS', 'FAIL', 'ERROR'), body })
      .map(({ code, applyStatus, body: b }) => http({ head: { applyStatus, code }, body: b }));

  test('refund done only from a signed SUCCESS answer about our refund id; resubmit only from a signed not-found query', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.constantFrom<'refund' | 'refund-query'>('refund', 'refund-query'),
        envelope(fc.option(fc.record({ refundOrder: refundRecord }), { nil: undefined, freq: 6 })),
        verdicts,
        (operation, answer, verdict) => {
          const outcome = classifyRefundAnswer(operation, answer, verdict, REFUND);
          seen.add(outcome.kind);
          const json = JSON.parse((answer as { body: string }).body) as {
            head: { code: string; applyStatus: string };
            body?: { refundOrder?: Record<string, unknown> };
          };
          const r = json.body?.refundOrder;
          if (outcome.kind === 'done') {
            expect(verdict).toBe('valid');
            expect(json.head).toMatchObject({ code: '0', applyStatus: 'SUCCESS' });
            expect(r?.refundMerchantOrderNo).toBe('R1');
            expect(['SUCCESS', 'REFUNDED_SETTLED']).toContain(r?.status);
            expect(r?.originMerchantOrderNo ?? 'M1').toBe('M1');
          }
          if (outcome.kind === 'resubmit') {
            expect(verdict).toBe('valid');
            expect(operation).toBe('refund-query');
            expect(['62004', '62035']).toContain(json.head.code);
          }
          if (outcome.kind === 'pending') expect(verdict).toBe('valid');
        },
      ),
      { numRuns: 2_000 },
    );
    // Every kind is reached, so that the properties cannot pass by never meeting one.
    expect([...seen].sort()).toEqual(['done', 'misconfigured', 'pending', 'refused', 'resubmit', 'unknown']);
  });

  test('revoke done only from a signed answer about our order that shows it revoked or FAILURE', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        envelope(fc.option(fc.record({ acquireOrder: orderRecord }), { nil: undefined, freq: 6 })),
        verdicts,
        (answer, verdict) => {
          const outcomes = [revoke(answer, verdict), classifyOrderQuery(answer, verdict, ASKED).revoke];
          const json = JSON.parse((answer as { body: string }).body) as {
            head: { code: string; applyStatus: string };
            body?: { acquireOrder?: Record<string, unknown> };
          };
          const o = json.body?.acquireOrder;
          for (const outcome of outcomes) {
            seen.add(outcome.kind);
            if (outcome.kind === 'done' || outcome.kind === 'resubmit' || outcome.kind === 'pending') {
              expect(verdict).toBe('valid');
              expect(json.head).toMatchObject({ code: '0', applyStatus: 'SUCCESS' });
              expect(o?.merchantOrderNo).toBe('M1');
            }
            if (outcome.kind === 'done')
              expect(o?.revoked === 'true' ? o.status !== 'CREATED' : o?.status === 'FAILURE').toBe(true);
            if (outcome.kind === 'resubmit') expect(o?.revoked).not.toBe('true');
          }
        },
      ),
      { numRuns: 2_000 },
    );
    expect([...seen].sort()).toEqual(['done', 'misconfigured', 'pending', 'refused', 'resubmit', 'unknown']);
  });
});

describe('amounts: minor units ↔ PayBy decimal major units', () => {
  /** Currencies by ISO 4217 exponent: 0, 2 and 3. */
  const CURRENCIES = ['JPY', 'KRW', 'AED', 'USD', 'HKD', 'KWD', 'BHD', 'OMR'];

  test('examples: exact text, never a float', () => {
    expect(paybyAmountText({ minor: 2174, currency: 'AED' })).toBe('21.74');
    expect(paybyAmountText({ minor: 29, currency: 'AED' })).toBe('0.29');
    expect(paybyAmountText({ minor: 5, currency: 'AED' })).toBe('0.05');
    expect(paybyAmountText({ minor: 2170, currency: 'AED' })).toBe('21.70');
    expect(paybyAmountText({ minor: 1005, currency: 'KWD' })).toBe('1.005');
    expect(paybyAmountText({ minor: 1000, currency: 'JPY' })).toBe('1000');
    expect(paybyAmountText({ minor: 999_999_999_999_99, currency: 'AED' })).toBe('999999999999.99');
    expect(toJsonText({ amount: paybyMoney({ minor: 115, currency: 'AED' }) })).toBe(
      '{"amount":{"currency":"AED","amount":1.15}}',
    );
  });
  test.each([
    [{ minor: 0, currency: 'AED' }, /positive/],
    [{ minor: -5, currency: 'AED' }, /positive/],
    [{ minor: 1.5, currency: 'AED' }, /whole number/],
    [{ minor: 2 ** 53, currency: 'AED' }, /whole number/],
    [{ minor: 100, currency: 'aed' }, /ISO 4217/],
    [{ minor: 100, currency: 'AEDX' }, /ISO 4217/],
    [{ minor: 100_000_000_000_000, currency: 'AED' }, /more than 12 whole digits/],
  ])('refuses %p', (money, message) => {
    expect(() => paybyAmountText(money)).toThrow(message);
  });

  test('property: minor → PayBy text → minor is exact for every safe integer and exponent 0, 2, 3', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURRENCIES),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (currency, minor) => {
          const text = minorToDecimal(minor, currency);
          expect(decimalToMinor(text, currency)).toBe(minor);
          const whole = text.split('.')[0]!.length;
          if (whole <= PAYBY_MAX_WHOLE_DIGITS)
            expect(decimalToMinor(paybyAmountText({ minor, currency }), currency)).toBe(minor);
          else expect(() => paybyAmountText({ minor, currency })).toThrow(/whole digits/);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  test('property: within PayBy range the JSON number on the wire reads back exactly, as PayBy and we parse it', () => {
    const inRange = fc
      .constantFrom(...CURRENCIES)
      .chain((currency) =>
        fc.tuple(
          fc.constant(currency),
          fc.integer({ min: 1, max: 10 ** (PAYBY_MAX_WHOLE_DIGITS + currencyExponent(currency)) - 1 }),
        ),
      );
    fc.assert(
      fc.property(inRange, ([currency, minor]) => {
        const text = paybyAmountText({ minor, currency });
        const body = toJsonText({ amount: paybyMoney({ minor, currency }) });
        expect(body).toBe(`{"amount":{"currency":"${currency}","amount":${text}}}`);
        const parsed = JSON.parse(body) as { amount: { amount: number } };
        expect(decimalToMinor(parsed.amount.amount, currency)).toBe(minor);
      }),
      { numRuns: 5_000 },
    );
  });

  test('property: toJsonText is JSON.stringify for plain JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(toJsonText(value as JsonText)).toBe(JSON.stringify(value));
      }),
      { numRuns: 2_000 },
    );
  });
  test('JsonDecimal takes JSON decimal text only', () => {
    for (const bad of ['01', '1.', '.5', '1e3', '+1', 'NaN', ' 1', '1,5'])
      expect(() => new JsonDecimal(bad)).toThrow();
    expect(toJsonText([new JsonDecimal('-0.10'), null, { a: undefined, b: 1 }])).toBe('[-0.10,null,{"b":1}]');
  });
});

describe('follow-up requests', () => {
  test('refund/placeOrder: serialised once, signed over exactly those bytes, PayBy field names, one origin number', () => {
    const request = buildPaybyRefundRequest(
      '200000000888',
      merchantPrivate,
      {
        refundMerchantOrderNo: 'R818494241569',
        order: { payOrderId: '131422372621002238', mchOrderNo: 'M965739182419' },
        amount: { minor: 101, currency: 'AED' },
        reason: 'refund "now"',
      },
      1581405399656,
    );
    expect(request.body).toBe(
      '{"requestTime":1581405399656,"bizContent":{"refundMerchantOrderNo":"R818494241569","originOrderNo":"131422372621002238","amount":{"currency":"AED","amount":1.01},"reason":"refund \\"now\\""}}',
    );
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'partner-id': '200000000888',
    });
    expect(rsaVerify(request.body, request.headers.sign, merchantPublic)).toBe(true);
    const byOurs = buildPaybyRefundRequest(
      '1',
      merchantPrivate,
      { refundMerchantOrderNo: 'R1', order: { mchOrderNo: 'M1' }, amount: { minor: 2170, currency: 'AED' } },
      1,
    );
    expect(byOurs.body).toBe(
      '{"requestTime":1,"bizContent":{"refundMerchantOrderNo":"R1","originMerchantOrderNo":"M1","amount":{"currency":"AED","amount":21.70}}}',
    );
    expect(() =>
      buildPaybyRefundRequest('1', merchantPrivate, {
        refundMerchantOrderNo: 'R1',
        order: {},
        amount: { minor: 1, currency: 'AED' },
      }),
    ).toThrow(/paid order/);
    expect(() =>
      buildPaybyRefundRequest('1', merchantPrivate, {
        refundMerchantOrderNo: '',
        order: { mchOrderNo: 'M1' },
        amount: { minor: 1, currency: 'AED' },
      }),
    ).toThrow(/refund id/);
    expect(() =>
      buildPaybyRefundRequest('1', merchantPrivate, {
        refundMerchantOrderNo: 'R1',
        order: { mchOrderNo: 'M1' },
        amount: { minor: 0, currency: 'AED' },
      }),
    ).toThrow(/positive/);
  });
  test('refund/getOrder asks by our refund id', () => {
    const request = buildPaybyRefundQuery('1', merchantPrivate, 'R1', 7);
    expect(request.body).toBe('{"requestTime":7,"bizContent":{"refundMerchantOrderNo":"R1"}}');
    expect(rsaVerify(request.body, request.headers.sign, merchantPublic)).toBe(true);
  });
});

describe('standalone sandbox scenarios for follow-ups', () => {
  test('tokens set the follow-up behaviours', () => {
    expect(scenarioOf('X-paid-paidago26h-lostrevoke-lostrefund-refundq3-refundfail')).toMatchObject({
      result: 'paid',
      paidAgoHours: 26,
      lostRevoke: true,
      lostRefund: true,
      refundQueries: 3,
      refundFails: true,
    });
    const before = Date.now();
    const behaviour = paybyBehaviourOf('X-settled-paidago2h-refundq1')!;
    expect(behaviour).toMatchObject({
      status: 'SETTLED',
      refundSucceedsAfterQueries: 1,
      loseRevokeResponse: false,
    });
    expect(behaviour.paidAt).toBeGreaterThanOrEqual(before - 2 * 3_600_000);
    expect(behaviour.paidAt).toBeLessThanOrEqual(Date.now() - 2 * 3_600_000);
    expect(paybyBehaviourOf('plain')).not.toHaveProperty('paidAt');
  });
});

describe('"the same day" is the calendar day in the app\'s time zone', () => {
  // 2026-11-30 21:30 UTC is already 2026-12-01 in Dubai (UTC+4) and still 2026-11-30 in New York.
  const late = Date.UTC(2026, 10, 30, 21, 30);
  test.each([
    ['UTC', '2026-11-30'],
    ['Asia/Dubai', '2026-12-01'],
    ['America/New_York', '2026-11-30'],
    ['Asia/Hong_Kong', '2026-12-01'],
  ])('%s: %s', (zone, day) => {
    expect(dayIn(zone, late)).toBe(day);
  });
  test('a payment at 23:59 and a cancel at 00:01 in the zone are different days, whatever UTC says', () => {
    const paid = Date.UTC(2026, 10, 30, 19, 59); // 23:59 in Dubai
    const cancelled = Date.UTC(2026, 10, 30, 20, 1); // 00:01 the next day in Dubai, same day in UTC
    expect(dayIn('Asia/Dubai', paid)).not.toBe(dayIn('Asia/Dubai', cancelled));
    expect(dayIn('UTC', paid)).toBe(dayIn('UTC', cancelled));
  });
});
