import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpAnswer } from '../../providers/http';
import { classifyPaybyAnswer, type PaybyAnswerContext } from '../../providers/payby/classify';
import { buildPaybyRequest } from '../../providers/payby/adapter';
import { privateKeyFrom, publicKeyFrom, rsaSign, rsaVerify } from '../../providers/payby/sign';
import { classifyUnifiedAnswer, type UnifiedAnswerContext } from '../../providers/unified/classify';
import { verifyCancelNotification } from '../../providers/unified/notification';
import { md5Sign } from '../../providers/unified/sign';
import type { ProviderOperation, SignatureVerdict } from '../../providers/types';

const KEYS = path.resolve(__dirname, '..', 'fixtures', 'keys');
const merchantPrivate = privateKeyFrom(readFileSync(path.join(KEYS, 'merchant-private.pem'), 'utf8'));
const merchantPublic = publicKeyFrom(readFileSync(path.join(KEYS, 'merchant-public.pem'), 'utf8'));
const otherPrivate = privateKeyFrom(readFileSync(path.join(KEYS, 'other-private.pem'), 'utf8'));

function http(body: unknown, status = 200): HttpAnswer {
  return {
    ok: true,
    status,
    headers: {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
    latencyMs: 1,
  };
}
/** Seed 002's names of its response codes, as PayBy sends them in head.msg. */
const SEED_NAMES: Record<string, string> = {
  '0': 'SUCCESS',
  '400': 'INVALID_PARAMETER',
  '402': 'RATE_LIMIT_REJECT',
  '403': 'UNAUTHORIZED',
  '404': 'SERVICE_NOT_AVAILABLE',
  '500': 'SYSTEM_ERROR',
  '504': 'SERVICE_TIMEOUT',
  '601': 'RISK_FAIL',
  '62001': 'ORDER_PAID',
  '62002': 'ORDER_FAILURE',
  '62003': 'ORDER_SETTLED',
  '62004': 'MERCHANT_ORDER_NO_NOT_EXIST',
  '62035': 'ORDER_NO_NOT_EXIST',
};
function payby(
  code: string,
  extra: Record<string, unknown> = {},
  applyStatus = code === '0' ? 'SUCCESS' : 'FAIL',
) {
  return {
    head: { applyStatus, code, msg: 'msg' in extra ? extra.msg : (SEED_NAMES[code] ?? 'x') },
    ...(extra.body ? { body: extra.body } : {}),
  };
}
function order(status: string, extra: Record<string, unknown> = {}) {
  return {
    acquireOrder: {
      merchantOrderNo: 'M1',
      orderNo: '131422372621002238',
      status,
      totalAmount: { currency: 'AED', amount: 21.74 },
      ...extra,
    },
  };
}

/** When the adapter received the answer: a PayBy cancelled outcome's successTime. */
const RECEIVED_AT = 1_700_000_000_123;
/** The PayBy order the tests ask about by default: our merchantOrderNo, as the order() answers name it. */
const ASKED: PaybyAnswerContext = { order: { mchOrderNo: 'M1' }, receivedAt: RECEIVED_AT };

function classifyPayby(
  operation: ProviderOperation,
  answer: HttpAnswer,
  signature: SignatureVerdict,
  context: PaybyAnswerContext = ASKED,
) {
  return classifyPaybyAnswer(operation, answer, signature, context);
}

describe('PayBy classification (one test per row of PROVIDERS.md)', () => {
  const valid: SignatureVerdict = 'valid';
  test('0 with acquireOrder.status FAILURE → cancelled, amount in exact minor units', () => {
    expect(classifyPayby('cancel', http(payby('0', { body: order('FAILURE') })), valid)).toEqual({
      kind: 'cancelled',
      providerOrderNo: '131422372621002238',
      payOrderId: '131422372621002238',
      mchOrderNo: 'M1',
      amount: { minor: 2174, currency: 'AED' },
      successTime: RECEIVED_AT,
    });
  });
  test("62001 ORDER_PAID and 62003 ORDER_SETTLED → refused for good, with PayBy's own code and message", () => {
    expect(classifyPayby('cancel', http(payby('62001')), valid)).toEqual({
      kind: 'refused',
      state: 3,
      code: '62001',
      message: 'ORDER_PAID',
    });
    expect(classifyPayby('cancel', http(payby('62003')), valid)).toEqual({
      kind: 'refused',
      state: 3,
      code: '62003',
      message: 'ORDER_SETTLED',
    });
  });
  test("an empty head.msg: the message is the code's name from the seed's table", () => {
    for (const [code, name] of [
      ['62001', 'ORDER_PAID'],
      ['62003', 'ORDER_SETTLED'],
      ['62004', 'MERCHANT_ORDER_NO_NOT_EXIST'],
      ['62035', 'ORDER_NO_NOT_EXIST'],
    ] as const) {
      expect(classifyPayby('cancel', http(payby(code, { msg: '' })), valid)).toMatchObject({
        kind: 'refused',
        code,
        message: name,
      });
      expect(classifyPayby('cancel', http(payby(code, { msg: undefined })), valid)).toMatchObject({
        code,
        message: name,
      });
    }
    expect(classifyPayby('cancel', http(payby('601', { msg: '' })), 'missing')).toMatchObject({
      kind: 'refused',
      code: '601',
      message: 'RISK_FAIL',
    });
    expect(classifyPayby('cancel', http(payby('403', { msg: '' })), 'missing')).toEqual({
      kind: 'misconfigured',
      code: '403',
      message: 'UNAUTHORIZED',
    });
  });
  test('62002 ORDER_FAILURE → pending, to be confirmed with getOrder', () => {
    expect(classifyPayby('cancel', http(payby('62002')), valid)).toMatchObject({
      kind: 'pending',
      state: 1,
    });
  });
  test('62004 and 62035 (not found) → terminal failure with that code', () => {
    expect(classifyPayby('cancel', http(payby('62004')), valid)).toMatchObject({
      kind: 'refused',
      code: '62004',
      message: 'MERCHANT_ORDER_NO_NOT_EXIST',
      notFound: true,
    });
    expect(classifyPayby('query', http(payby('62035')), valid)).toMatchObject({
      kind: 'refused',
      code: '62035',
      message: 'ORDER_NO_NOT_EXIST',
      notFound: true,
    });
    // The other refusals know the order: no mark.
    expect(classifyPayby('cancel', http(payby('62001')), valid)).not.toHaveProperty('notFound');
  });
  test('400 INVALID_PARAMETER, 403, 601 and applyStatus ERROR → terminal, not retried blindly', () => {
    expect(
      classifyPayby('cancel', http(payby('400', { msg: 'INVALID_PARAMETER' })), 'missing'),
    ).toMatchObject({ kind: 'misconfigured', code: '400', message: 'INVALID_PARAMETER' });
    expect(classifyPayby('cancel', http(payby('403', { msg: 'UNAUTHORIZED' })), 'missing')).toMatchObject({
      kind: 'misconfigured',
      code: '403',
      message: 'UNAUTHORIZED',
    });
    expect(classifyPayby('cancel', http(payby('601', { msg: 'RISK_FAIL' })), 'missing')).toMatchObject({
      kind: 'refused',
      code: '601',
      message: 'RISK_FAIL',
    });
    expect(
      classifyPayby('cancel', http(payby('400', { msg: 'sign verify failed' }, 'ERROR')), 'missing'),
    ).toEqual({
      kind: 'misconfigured',
      code: '400',
      message: 'PayBy could not verify our signature: sign verify failed',
    });
  });
  test('REQUESTTIME_TOO_EARLY / TOO_LATER → retryable with a fresh requestTime', () => {
    expect(
      classifyPayby('cancel', http(payby('400', { msg: 'REQUESTTIME_TOO_EARLY' })), 'missing'),
    ).toMatchObject({ kind: 'unknown', code: 'REQUESTTIME' });
    expect(
      classifyPayby('cancel', http(payby('400', { msg: 'REQUESTTIME_TOO_LATER' })), 'missing'),
    ).toMatchObject({ kind: 'unknown', code: 'REQUESTTIME' });
  });
  test.each(['402', '404', '500', '504'])('head code %s → unknown', (code) => {
    expect(classifyPayby('cancel', http(payby(code)), 'missing')).toMatchObject({
      kind: 'unknown',
      code,
    });
  });
  test('timeout, reset, 5xx, empty and non-JSON bodies → unknown', () => {
    expect(
      classifyPayby(
        'cancel',
        { ok: false, code: 'ETIMEDOUT', error: 'timeout', latencyMs: 1 },
        'not-checked',
      ),
    ).toMatchObject({ kind: 'unknown', code: 'ETIMEDOUT' });
    expect(
      classifyPayby('cancel', { ok: false, code: 'ECONNRESET', error: 'reset', latencyMs: 1 }, 'not-checked'),
    ).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    expect(classifyPayby('cancel', http('<html>bad gateway</html>', 502), 'missing')).toMatchObject({
      kind: 'unknown',
      code: 'HTTP_502',
    });
    expect(classifyPayby('cancel', http(''), 'missing')).toMatchObject({ kind: 'unknown' });
    expect(classifyPayby('cancel', http('{"head":'), 'valid')).toMatchObject({ kind: 'unknown' });
  });
  test('a success whose signature does not verify, or is missing, is never a success', () => {
    for (const verdict of ['invalid', 'missing'] as const) {
      expect(classifyPayby('cancel', http(payby('0', { body: order('FAILURE') })), verdict)).toMatchObject({
        kind: 'unknown',
        code: 'BAD_SIGNATURE',
      });
      expect(classifyPayby('cancel', http(payby('62001')), verdict)).toMatchObject({
        kind: 'unknown',
        code: 'BAD_SIGNATURE',
      });
    }
  });
  test('malformed answers: missing fields, wrong types, unknown status → unknown', () => {
    expect(classifyPayby('cancel', http({ head: { code: 0 } }), 'valid')).toMatchObject({
      kind: 'unknown',
    });
    expect(classifyPayby('cancel', http(payby('0')), 'valid')).toMatchObject({ kind: 'unknown' });
    expect(classifyPayby('cancel', http(payby('0', { body: order('CANCELLED') })), 'valid')).toMatchObject({
      kind: 'unknown',
    });
    expect(
      classifyPayby('cancel', http(payby('0', { body: order('FAILURE', { revoked: 'maybe' }) })), 'valid'),
    ).toMatchObject({ kind: 'unknown' });
  });
  test('getOrder: CREATED → resubmit, PAID_SUCCESS/SETTLED → refused, revoked → refused', () => {
    expect(classifyPayby('query', http(payby('0', { body: order('CREATED') })), valid)).toEqual({
      kind: 'resubmit',
      authoritative: true,
      reason: 'order is CREATED: the cancel has not taken effect',
    });
    expect(classifyPayby('cancel', http(payby('0', { body: order('CREATED') })), valid)).toMatchObject({
      kind: 'pending',
      payOrderId: '131422372621002238',
      mchOrderNo: 'M1',
      amount: { minor: 2174, currency: 'AED' },
    });
    // The codes PayBy gives a cancel of such an order.
    expect(classifyPayby('query', http(payby('0', { body: order('PAID_SUCCESS') })), valid)).toEqual({
      kind: 'refused',
      state: 3,
      code: '62001',
      message: 'ORDER_PAID',
      payOrderId: '131422372621002238',
      mchOrderNo: 'M1',
      amount: { minor: 2174, currency: 'AED' },
    });
    expect(classifyPayby('query', http(payby('0', { body: order('SETTLED') })), valid)).toMatchObject({
      kind: 'refused',
      state: 3,
      code: '62003',
      message: 'ORDER_SETTLED',
    });
    expect(
      classifyPayby('query', http(payby('0', { body: order('FAILURE', { revoked: 'true' }) })), valid),
    ).toMatchObject({ kind: 'refused', code: '62040', message: 'ACQUIRE_ORDER_REVOKED' });
    expect(
      classifyPayby('query', http(payby('0', { body: order('FAILURE', { revoked: 'false' }) })), valid),
    ).toMatchObject({ kind: 'cancelled', successTime: RECEIVED_AT });
  });
  test('601 RISK_FAIL refuses a cancel for good, but a refused getOrder says nothing about the cancel', () => {
    expect(classifyPayby('cancel', http(payby('601')), 'missing')).toMatchObject({
      kind: 'refused',
      code: '601',
    });
    expect(classifyPayby('query', http(payby('601')), 'missing')).toMatchObject({
      kind: 'unknown',
      code: '601',
    });
    expect(classifyPayby('query', http(payby('601')), valid)).toMatchObject({ kind: 'unknown', code: '601' });
  });
});

describe('PayBy: an answer about another order never settles ours', () => {
  const valid: SignatureVerdict = 'valid';
  const byMchOrderNo = ASKED;
  const byOrderNo: PaybyAnswerContext = { order: { payOrderId: '131422372621002238' }, receivedAt: 1 };
  test.each(['cancel', 'query'] as const)(
    '%s: asked by merchantOrderNo, the answer names another or none → MISADDRESSED naming both',
    (operation) => {
      for (const status of ['FAILURE', 'PAID_SUCCESS', 'SETTLED', 'CREATED']) {
        const other = classifyPayby(
          operation,
          http(payby('0', { body: order(status, { merchantOrderNo: 'M2' }) })),
          valid,
          byMchOrderNo,
        );
        expect(other).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
        expect(other.kind === 'unknown' && other.reason).toMatch(/"M1".*"M2"/);
        expect(
          classifyPayby(
            operation,
            http(payby('0', { body: order(status, { merchantOrderNo: undefined }) })),
            valid,
            byMchOrderNo,
          ),
        ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
      }
    },
  );
  test('asked by orderNo: the answer must name that orderNo', () => {
    expect(
      classifyPayby('cancel', http(payby('0', { body: order('FAILURE') })), valid, byOrderNo),
    ).toMatchObject({
      kind: 'cancelled',
      payOrderId: '131422372621002238',
      mchOrderNo: 'M1',
      successTime: 1,
    });
    const other = classifyPayby(
      'query',
      http(payby('0', { body: order('FAILURE', { orderNo: '131422372621002239' }) })),
      valid,
      byOrderNo,
    );
    expect(other).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(other.kind === 'unknown' && other.reason).toMatch(/131422372621002238.*131422372621002239/);
    // A number is not PayBy's orderNo string, even with the same digits.
    expect(
      classifyPayby('query', http(payby('0', { body: order('FAILURE', { orderNo: 42 }) })), valid, {
        order: { payOrderId: '42' },
        receivedAt: 1,
      }),
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    // Asked by orderNo, an answer about another merchant order number of ours is not about our order.
    expect(
      classifyPayby('query', http(payby('0', { body: order('FAILURE', { merchantOrderNo: 'M2' }) })), valid, {
        order: { payOrderId: '131422372621002238', mchOrderNo: 'M1' },
        receivedAt: 1,
      }),
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });
  test('a refusal carrying an acquireOrder about another order is not a refusal of ours', () => {
    expect(
      classifyPayby(
        'cancel',
        http(payby('62001', { body: order('PAID_SUCCESS', { merchantOrderNo: 'M9' }) })),
        valid,
      ),
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });
  test('a request that named no order can have no answer about it', () => {
    expect(
      classifyPayby('cancel', http(payby('0', { body: order('FAILURE') })), valid, {
        order: {},
        receivedAt: 1,
      }),
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });
});

describe('PayBy: the signed status decides, the amount only informs', () => {
  const withAmount = (status: string, totalAmount: unknown) =>
    classifyPayby('query', http(payby('0', { body: order(status, { totalAmount }) })), 'valid');
  test('float noise, too many fraction digits, nonsense → the status still decides, no amount', () => {
    for (const totalAmount of [
      { currency: 'AED', amount: 21.740000000001 },
      { currency: 'AED', amount: 21.745 },
      { currency: 'AED', amount: 'twenty' },
      { currency: 'AED', amount: 1e21 },
      { currency: 'AED', amount: -5 },
      { currency: 'DIRHAM', amount: 21.74 },
      { amount: 21.74 },
      'AED 21.74',
      null,
    ]) {
      const cancelled = withAmount('FAILURE', totalAmount);
      expect(cancelled).toMatchObject({ kind: 'cancelled', payOrderId: '131422372621002238' });
      expect(cancelled).not.toHaveProperty('amount');
      const refused = withAmount('PAID_SUCCESS', totalAmount);
      expect(refused).toMatchObject({ kind: 'refused', code: '62001' });
      expect(refused).not.toHaveProperty('amount');
    }
  });
  test('a lower-case currency is upper-cased; a decimal string is read exactly', () => {
    expect(withAmount('FAILURE', { currency: 'aed', amount: 21.74 })).toMatchObject({
      amount: { minor: 2174, currency: 'AED' },
    });
    expect(withAmount('FAILURE', { currency: 'AED', amount: '0.29' })).toMatchObject({
      amount: { minor: 29, currency: 'AED' },
    });
    expect(withAmount('FAILURE', { currency: 'KWD', amount: 1.234 })).toMatchObject({
      amount: { minor: 1234, currency: 'KWD' },
    });
  });
});

describe('PayBy signature', () => {
  test('the body is serialised once; the signature verifies over exactly the bytes sent', () => {
    const request = buildPaybyRequest(
      '200000000888',
      merchantPrivate,
      { mchOrderNo: 'M172475858661' },
      1581422748669,
    );
    expect(request.body).toBe(
      '{"requestTime":1581422748669,"bizContent":{"merchantOrderNo":"M172475858661"}}',
    );
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'content-language': 'en',
      'partner-id': '200000000888',
    });
    expect(rsaVerify(request.body, request.headers.sign, merchantPublic)).toBe(true);
    expect(rsaVerify(request.body.replace('661', '662'), request.headers.sign, merchantPublic)).toBe(false);
    expect(rsaVerify(request.body, rsaSign(request.body, otherPrivate), merchantPublic)).toBe(false);
    expect(rsaVerify(request.body, 'not base64!', merchantPublic)).toBe(false);
  });
  test('orderNo or merchantOrderNo, never both; a fresh requestTime gives a fresh signature', () => {
    const a = buildPaybyRequest('1', merchantPrivate, { payOrderId: '131', mchOrderNo: 'M1' }, 1);
    expect(JSON.parse(a.body)).toEqual({ requestTime: 1, bizContent: { orderNo: '131' } });
    const b = buildPaybyRequest('1', merchantPrivate, { payOrderId: '131' }, 2);
    expect(b.headers.sign).not.toBe(a.headers.sign);
  });
});

function classifyUnified(
  operation: ProviderOperation,
  answer: HttpAnswer,
  key: string,
  context: UnifiedAnswerContext = { order: {} },
) {
  return classifyUnifiedAnswer(operation, answer, key, context);
}

describe('Unified classification', () => {
  const KEY = 'gateway-key';
  const signed = (data: Record<string, unknown>, code = 0) => ({
    code,
    msg: 'SUCCESS',
    data,
    sign: md5Sign(data, KEY),
  });
  test('code 0 with state 2 / 3 / 4 → terminal success / failure / closed', () => {
    expect(
      classifyUnified('cancel', http(signed({ cancelOrderId: 'C1', state: 2, channelOrderNo: 'CH1' })), KEY),
    ).toEqual({
      outcome: { kind: 'cancelled', providerCancelId: 'C1', channelOrderNo: 'CH1' },
      signature: 'valid',
    });
    expect(
      classifyUnified(
        'cancel',
        http(signed({ cancelOrderId: 'C1', state: 3, errCode: '1002', errMsg: 'Close exception' })),
        KEY,
      ).outcome,
    ).toMatchObject({ kind: 'refused', state: 3, code: '1002' });
    expect(
      classifyUnified('cancel', http(signed({ cancelOrderId: 'C1', state: 4 })), KEY).outcome,
    ).toMatchObject({ kind: 'refused', state: 4 });
  });
  test('code 0 with state 0 / 1 → pending with the gateway cancel id', () => {
    expect(classifyUnified('cancel', http(signed({ cancelOrderId: 'C9', state: 1 })), KEY).outcome).toEqual({
      kind: 'pending',
      state: 1,
      providerCancelId: 'C9',
    });
    expect(
      classifyUnified('query', http(signed({ cancelOrderId: 'C9', state: 0 })), KEY, {
        order: {},
        providerCancelId: 'C9',
      }).outcome,
    ).toMatchObject({ kind: 'pending', state: 0 });
  });
  test('a success signed with another key, or unsigned, is untrusted', () => {
    const data = { cancelOrderId: 'C1', state: 2 };
    expect(
      classifyUnified('cancel', http({ code: 0, data, sign: md5Sign(data, 'other') }), KEY),
    ).toMatchObject({ outcome: { kind: 'unknown', code: 'BAD_SIGNATURE' }, signature: 'invalid' });
    expect(classifyUnified('cancel', http({ code: 0, data }), KEY)).toMatchObject({
      outcome: { kind: 'unknown' },
      signature: 'missing',
    });
  });
  test('HTTP 200 with an empty body, non-JSON, 5xx → unknown', () => {
    expect(classifyUnified('cancel', http(''), KEY).outcome.kind).toBe('unknown');
    expect(classifyUnified('cancel', http('oops'), KEY).outcome.kind).toBe('unknown');
    expect(classifyUnified('cancel', http({ code: 0 }, 503), KEY).outcome.kind).toBe('unknown');
  });
  test('signed but malformed data (missing cancelOrderId, state out of range) → unknown', () => {
    expect(classifyUnified('cancel', http(signed({ state: 2 })), KEY).outcome.kind).toBe('unknown');
    expect(classifyUnified('cancel', http(signed({ cancelOrderId: 'C1', state: 7 })), KEY).outcome.kind).toBe(
      'unknown',
    );
  });
  test('error answers: a cancel refusal is terminal, a query error is unknown, a signature refusal is misconfiguration', () => {
    expect(classifyUnified('cancel', http({ code: 9999, msg: 'order not exist' }), KEY).outcome).toEqual({
      kind: 'refused',
      state: 3,
      code: '9999',
      message: 'order not exist',
      notFound: true,
    });
    expect(classifyUnified('query', http({ code: 9999, msg: 'order not exist' }), KEY).outcome).toMatchObject(
      {
        kind: 'unknown',
        notFound: true,
      },
    );
    expect(
      classifyUnified('cancel', http({ code: 9999, msg: 'order status not allowed' }), KEY).outcome,
    ).not.toHaveProperty('notFound');
    expect(
      classifyUnified('cancel', http({ code: 9998, msg: 'Signature failed' }), KEY).outcome,
    ).toMatchObject({ kind: 'misconfigured', code: '9998' });
    expect(
      classifyUnified('query', http({ code: 9999, msg: 'merchant app does not exist' }), KEY).outcome,
    ).toMatchObject({ kind: 'misconfigured', code: '9999' });
    expect(classifyUnified('query', http({ code: 9999, msg: 'order not exist' }), KEY).outcome).toMatchObject(
      {
        kind: 'unknown',
        code: '9999',
      },
    );
  });
  test.each([
    'system error',
    'System busy, try again later',
    'internal server error',
    '系统异常',
    '系统繁忙，请稍后重试',
    // Trouble words win over the words of our own misconfiguration: the cancel may have been taken.
    'Merchant system busy, please try again later',
    'app service unavailable',
    'merchant channel: internal error',
    // A call of the gateway's timed out (not the order): the cancel may have been taken.
    'upstream timeout',
    'channel call timed out',
    'Read timed out',
    'connect timeout to channel',
    'gateway time-out',
    'timeout calling the channel',
    'time out connecting to upstream',
    'please try again later',
    '渠道超时',
    '请求超时，请查询',
  ])("the gateway's own trouble (%s) is an unknown outcome of the cancel, never its refusal", (msg) => {
    for (const operation of ['cancel', 'query'] as const)
      expect(classifyUnified(operation, http({ code: 9999, msg }), KEY).outcome).toMatchObject({
        kind: 'unknown',
        code: '9999',
      });
  });
  test.each([
    ['订单状态异常', 'refused'],
    ['订单已超时', 'refused'],
    ['order timed out', 'refused'],
    ['the order has timed out', 'refused'],
    ['Order timeout', 'refused'],
    ['Payment timeout', 'refused'],
    ['Order closed due to timeout', 'refused'],
    ['Order expired (timeout)', 'refused'],
    ['sign error, please try again', 'misconfigured'],
    ['merchant not enabled, retry later', 'misconfigured'],
    ['订单超时', 'refused'],
    ['order time out, closed', 'refused'],
    ['order does not exist in the system', 'refused'],
    ['system parameter error', 'misconfigured'],
    ['merchant app unavailable', 'misconfigured'],
  ])("%s is still a refusal of the cancel (%s), not the gateway's trouble", (msg, kind) => {
    expect(classifyUnified('cancel', http({ code: 9999, msg }), KEY).outcome.kind).toBe(kind);
  });
  test('a refused reqTime is retryable with a fresh one, never a refusal of the cancel', () => {
    expect(
      classifyUnified('cancel', http({ code: 9999, msg: 'reqTime expired' }), KEY).outcome,
    ).toMatchObject({ kind: 'unknown', code: 'REQTIME' });
  });
});

describe('Unified: answers about another order or cancel order never settle ours', () => {
  const KEY = 'gateway-key';
  const signed = (data: Record<string, unknown>) => ({
    code: 0,
    msg: 'SUCCESS',
    data,
    sign: md5Sign(data, KEY),
  });
  /** A seed-000 query answer about cancel order C1 of payment order P1. */
  const queryData = (extra: Record<string, unknown> = {}) => ({
    cancelOrderId: 'C1',
    payOrderId: 'P1',
    mchNo: 'M1621873433953',
    appId: '60cc09bce4b0f1c0b83761c9',
    payAmount: 58,
    currency: 'HKD',
    state: 2,
    channelOrderNo: '2021061822001423031419593035',
    errCode: '',
    errMsg: '',
    extraParam: '',
    successTime: 1623985554000,
    createdAt: 1623985552769,
    ...extra,
  });
  const ours: UnifiedAnswerContext = { order: { payOrderId: 'P1' }, providerCancelId: 'C1' };

  test('a query answer about the cancel order we asked → cancelled with the order facts', () => {
    expect(classifyUnified('query', http(signed(queryData())), KEY, ours)).toEqual({
      outcome: {
        kind: 'cancelled',
        providerCancelId: 'C1',
        channelOrderNo: '2021061822001423031419593035',
        successTime: 1623985554000,
        payOrderId: 'P1',
        amount: { minor: 58, currency: 'HKD' },
      },
      signature: 'valid',
    });
  });
  test.each([
    ['another cancelOrderId', { cancelOrderId: 'C2' }, ours, /"C1".*"C2"/],
    ['another payOrderId', { payOrderId: 'P2' }, ours, /"P1".*"P2"/],
    [
      'another mchOrderNo',
      { mchOrderNo: 'MO-2' },
      { ...ours, order: { mchOrderNo: 'MO-1' } },
      /"MO-1".*"MO-2"/,
    ],
  ] as const)('query answer naming %s → unknown MISADDRESSED naming both', (_name, extra, context, both) => {
    for (const state of [0, 1, 2, 3, 4]) {
      const { outcome, signature } = classifyUnified(
        'query',
        http(signed(queryData({ ...extra, state }))),
        KEY,
        context,
      );
      expect(outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
      expect(outcome.kind === 'unknown' && outcome.reason).toMatch(both);
      expect(signature).toBe('valid');
    }
  });
  test('a query that named no cancel order can have no answer about it', () => {
    expect(classifyUnified('query', http(signed(queryData())), KEY, { order: {} }).outcome).toMatchObject({
      kind: 'unknown',
      code: 'MISADDRESSED',
    });
  });
  test('payOrderId unknown to us: the answer teaches it (OrderFacts), nothing to compare', () => {
    expect(
      classifyUnified('query', http(signed(queryData())), KEY, {
        order: { mchOrderNo: 'MO-1' },
        providerCancelId: 'C1',
      }).outcome,
    ).toMatchObject({ kind: 'cancelled', payOrderId: 'P1' });
  });
  test('a repeated cancel: an answer naming another cancel order than the one we know → MISADDRESSED', () => {
    const answer = http(signed({ cancelOrderId: 'C2', state: 2 }));
    expect(
      classifyUnified('cancel', answer, KEY, { order: { payOrderId: 'P1' }, providerCancelId: 'C1' }).outcome,
    ).toMatchObject({
      kind: 'unknown',
      code: 'MISADDRESSED',
    });
    // The first cancel: no cancel id known yet, so the answer's becomes ours.
    expect(classifyUnified('cancel', answer, KEY, { order: { payOrderId: 'P1' } }).outcome).toMatchObject({
      kind: 'cancelled',
      providerCancelId: 'C2',
    });
    // payOrderId / mchOrderNo in a cancel answer are checked the same way when present.
    expect(
      classifyUnified('cancel', http(signed({ cancelOrderId: 'C2', state: 3, payOrderId: 'P9' })), KEY, {
        order: { payOrderId: 'P1' },
      }).outcome,
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(
      classifyUnified('cancel', http(signed({ cancelOrderId: 'C2', state: 2, mchOrderNo: 'MO-9' })), KEY, {
        order: { mchOrderNo: 'MO-1' },
      }).outcome,
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });
  test('an error answer whose data names another order is not a refusal of ours', () => {
    expect(
      classifyUnified(
        'cancel',
        http({ code: 9999, msg: 'order status not allowed', data: { payOrderId: 'P2' } }),
        KEY,
        {
          order: { payOrderId: 'P1' },
        },
      ).outcome,
    ).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });
});

describe('Unified: codes, order facts, times and amounts', () => {
  const KEY = 'gateway-key';
  const signed = (data: Record<string, unknown>) => ({
    code: 0,
    msg: 'SUCCESS',
    data,
    sign: md5Sign(data, KEY),
  });
  const asked: UnifiedAnswerContext = { order: {}, providerCancelId: 'C1' };
  const query = (data: Record<string, unknown>) =>
    classifyUnified('query', http(signed({ cancelOrderId: 'C1', ...data })), KEY, asked).outcome;

  test("state 3 / 4: the channel's errCode / errMsg; fallbacks only when empty", () => {
    expect(query({ state: 3, errCode: '62001', errMsg: 'ORDER_PAID', payOrderId: 'P1' })).toEqual({
      kind: 'refused',
      state: 3,
      code: '62001',
      message: 'ORDER_PAID',
      providerCancelId: 'C1',
      payOrderId: 'P1',
    });
    expect(query({ state: 4, errCode: '', errMsg: '' })).toMatchObject({
      kind: 'refused',
      state: 4,
      code: 'CANCEL_CLOSED',
      message: 'the gateway closed the cancel',
    });
    expect(query({ state: 3, errCode: 1002 })).toMatchObject({
      code: '1002',
      message: 'the gateway reports the cancel failed',
    });
  });
  test('pending answers carry the order facts too', () => {
    expect(query({ state: 1, payOrderId: 'P1', payAmount: 100, currency: 'HKD' })).toEqual({
      kind: 'pending',
      state: 1,
      providerCancelId: 'C1',
      payOrderId: 'P1',
      amount: { minor: 100, currency: 'HKD' },
    });
  });
  test('successTime: 10 digits are seconds (→ ms), 13 digits are kept, anything else is left out', () => {
    expect(query({ state: 2, successTime: 1623985554 })).toMatchObject({ successTime: 1623985554000 });
    expect(query({ state: 2, successTime: '1623985554' })).toMatchObject({ successTime: 1623985554000 });
    expect(query({ state: 2, successTime: 1623985554123 })).toMatchObject({ successTime: 1623985554123 });
    expect(query({ state: 2, successTime: '1623985554123' })).toMatchObject({ successTime: 1623985554123 });
    for (const odd of [162398555412, 'yesterday', -1623985554, 1623985554.5, { at: 1 }]) {
      const outcome = query({ state: 2, successTime: odd });
      expect(outcome).toMatchObject({ kind: 'cancelled', providerCancelId: 'C1' });
      expect(outcome).not.toHaveProperty('successTime');
    }
  });
  test('an odd amount never turns a verified state into unknown; it is left out', () => {
    for (const [payAmount, currency] of [
      [1.5, 'HKD'],
      [-1, 'HKD'],
      ['1e3', 'HKD'],
      [100, 'HONGKONG'],
      [100, undefined],
      [{ minor: 1 }, 'HKD'],
    ] as const) {
      const outcome = query({ state: 2, payAmount, currency });
      expect(outcome).toMatchObject({ kind: 'cancelled' });
      expect(outcome).not.toHaveProperty('amount');
    }
    expect(query({ state: 2, payAmount: '58', currency: 'hkd' })).toMatchObject({
      amount: { minor: 58, currency: 'HKD' },
    });
  });
});

describe('Unified inbound Cancel Notification', () => {
  const KEY = 'testkey123';
  const fields = {
    cancelOrderId: 'C202106181104177050002',
    payOrderId: 'P202106181104177050002',
    mchNo: 'M1621873433953',
    appId: '60cc09bce4b0f1c0b83761c9',
    payAmount: '5',
    currency: 'HKD',
    state: '2',
    channelOrderNo: '2021061822001423031419593035',
    errCode: '',
    errMsg: '',
    extraParam: '',
    createdAt: '1623985552769',
    successTime: '1623985554000',
    reqTime: '1623985554000',
  };
  test('the worked notification vector verifies and maps to cancelled', () => {
    const verdict = verifyCancelNotification({ ...fields, sign: 'C768C63F3E06BF969F5DF12B728199B3' }, KEY);
    expect(verdict).toMatchObject({
      verdict: 'valid',
      cancelOrderId: 'C202106181104177050002',
      state: 2,
      outcome: { kind: 'cancelled', amount: { minor: 5, currency: 'HKD' } },
    });
  });
  test("the outcome carries the notification's payOrderId, for the caller to compare with ours", () => {
    const verdict = verifyCancelNotification({ ...fields, sign: 'C768C63F3E06BF969F5DF12B728199B3' }, KEY);
    expect(verdict).toEqual({
      verdict: 'valid',
      cancelOrderId: 'C202106181104177050002',
      state: 2,
      outcome: {
        kind: 'cancelled',
        providerCancelId: 'C202106181104177050002',
        channelOrderNo: '2021061822001423031419593035',
        successTime: 1623985554000,
        payOrderId: 'P202106181104177050002',
        amount: { minor: 5, currency: 'HKD' },
      },
    });
    const failed = { ...fields, state: '3', errCode: '62001', errMsg: 'ORDER_PAID', successTime: '' };
    expect(verifyCancelNotification({ ...failed, sign: md5Sign(failed, KEY) }, KEY)).toMatchObject({
      verdict: 'valid',
      outcome: {
        kind: 'refused',
        code: '62001',
        message: 'ORDER_PAID',
        payOrderId: 'P202106181104177050002',
      },
    });
  });
  test("a notification's 10-digit successTime is seconds", () => {
    const seconds = { ...fields, successTime: '1623985554' };
    expect(verifyCancelNotification({ ...seconds, sign: md5Sign(seconds, KEY) }, KEY)).toMatchObject({
      outcome: { kind: 'cancelled', successTime: 1623985554000 },
    });
  });
  test('verified over what was received: an extra field is covered by the signature', () => {
    const extended = { ...fields, newField: 'x' };
    expect(verifyCancelNotification({ ...extended, sign: md5Sign(extended, KEY) }, KEY).verdict).toBe(
      'valid',
    );
    expect(
      verifyCancelNotification({ ...extended, sign: 'C768C63F3E06BF969F5DF12B728199B3' }, KEY).verdict,
    ).toBe('invalid-signature');
  });
  test('forged, unsigned and malformed notifications are refused with a reason', () => {
    expect(
      verifyCancelNotification({ ...fields, state: '3', sign: 'C768C63F3E06BF969F5DF12B728199B3' }, KEY),
    ).toMatchObject({ verdict: 'invalid-signature', cancelOrderId: fields.cancelOrderId });
    expect(verifyCancelNotification({ ...fields }, KEY)).toMatchObject({
      verdict: 'invalid-signature',
      reason: 'no sign',
    });
    const bad = { ...fields, state: '9' };
    expect(verifyCancelNotification({ ...bad, sign: md5Sign(bad, KEY) }, KEY)).toMatchObject({
      verdict: 'malformed',
    });
  });
});
