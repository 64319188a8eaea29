import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpAnswer } from '../../providers/http';
import { classifyPaybyAnswer } from '../../providers/payby/classify';
import { buildPaybyRequest } from '../../providers/payby/adapter';
import { privateKeyFrom, publicKeyFrom, rsaSign, rsaVerify } from '../../providers/payby/sign';
import { classifyUnifiedAnswer } from '../../providers/unified/classify';
import { verifyCancelNotification } from '../../providers/unified/notification';
import { md5Sign } from '../../providers/unified/sign';
import type { SignatureVerdict } from '../../providers/types';

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
function payby(
  code: string,
  extra: Record<string, unknown> = {},
  applyStatus = code === '0' ? 'SUCCESS' : 'FAIL',
) {
  return { head: { applyStatus, code, msg: extra.msg ?? 'x' }, ...(extra.body ? { body: extra.body } : {}) };
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

describe('PayBy classification (one test per row of PROVIDERS.md)', () => {
  const valid: SignatureVerdict = 'valid';
  test('0 with acquireOrder.status FAILURE → cancelled, amount in exact minor units', () => {
    expect(classifyPaybyAnswer('cancel', http(payby('0', { body: order('FAILURE') })), valid)).toEqual({
      kind: 'cancelled',
      providerOrderNo: '131422372621002238',
      amount: { minor: 2174, currency: 'AED' },
    });
  });
  test('62001 ORDER_PAID and 62003 ORDER_SETTLED → refused for good', () => {
    expect(classifyPaybyAnswer('cancel', http(payby('62001')), valid)).toMatchObject({
      kind: 'refused',
      state: 3,
      code: 'ORDER_PAID',
    });
    expect(classifyPaybyAnswer('cancel', http(payby('62003')), valid)).toMatchObject({
      kind: 'refused',
      state: 3,
      code: 'ORDER_SETTLED',
    });
  });
  test('62002 ORDER_FAILURE → pending, to be confirmed with getOrder', () => {
    expect(classifyPaybyAnswer('cancel', http(payby('62002')), valid)).toMatchObject({
      kind: 'pending',
      state: 1,
    });
  });
  test('62004 and 62035 (not found) → terminal failure with that code', () => {
    expect(classifyPaybyAnswer('cancel', http(payby('62004')), valid)).toMatchObject({
      kind: 'refused',
      code: 'MERCHANT_ORDER_NO_NOT_EXIST',
    });
    expect(classifyPaybyAnswer('cancel', http(payby('62035')), valid)).toMatchObject({
      kind: 'refused',
      code: 'ORDER_NO_NOT_EXIST',
    });
  });
  test('400 INVALID_PARAMETER, 403, 601 and applyStatus ERROR → terminal, not retried blindly', () => {
    expect(
      classifyPaybyAnswer('cancel', http(payby('400', { msg: 'INVALID_PARAMETER' })), 'missing'),
    ).toMatchObject({ kind: 'misconfigured', code: 'INVALID_PARAMETER' });
    expect(
      classifyPaybyAnswer('cancel', http(payby('403', { msg: 'UNAUTHORIZED' })), 'missing'),
    ).toMatchObject({ kind: 'misconfigured', code: 'UNAUTHORIZED' });
    expect(classifyPaybyAnswer('cancel', http(payby('601', { msg: 'RISK_FAIL' })), 'missing')).toMatchObject({
      kind: 'refused',
      code: 'RISK_FAIL',
    });
    expect(classifyPaybyAnswer('cancel', http(payby('400', {}, 'ERROR')), 'missing')).toMatchObject({
      kind: 'misconfigured',
      code: 'PAYBY_SIGNATURE_REJECTED',
    });
  });
  test('REQUESTTIME_TOO_EARLY / TOO_LATER → retryable with a fresh requestTime', () => {
    expect(
      classifyPaybyAnswer('cancel', http(payby('400', { msg: 'REQUESTTIME_TOO_EARLY' })), 'missing'),
    ).toMatchObject({ kind: 'unknown', code: 'REQUESTTIME' });
    expect(
      classifyPaybyAnswer('cancel', http(payby('400', { msg: 'REQUESTTIME_TOO_LATER' })), 'missing'),
    ).toMatchObject({ kind: 'unknown', code: 'REQUESTTIME' });
  });
  test.each(['402', '404', '500', '504'])('head code %s → unknown', (code) => {
    expect(classifyPaybyAnswer('cancel', http(payby(code)), 'missing')).toMatchObject({
      kind: 'unknown',
      code,
    });
  });
  test('timeout, reset, 5xx, empty and non-JSON bodies → unknown', () => {
    expect(
      classifyPaybyAnswer(
        'cancel',
        { ok: false, code: 'ETIMEDOUT', error: 'timeout', latencyMs: 1 },
        'not-checked',
      ),
    ).toMatchObject({ kind: 'unknown', code: 'ETIMEDOUT' });
    expect(
      classifyPaybyAnswer(
        'cancel',
        { ok: false, code: 'ECONNRESET', error: 'reset', latencyMs: 1 },
        'not-checked',
      ),
    ).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    expect(classifyPaybyAnswer('cancel', http('<html>bad gateway</html>', 502), 'missing')).toMatchObject({
      kind: 'unknown',
      code: 'HTTP_502',
    });
    expect(classifyPaybyAnswer('cancel', http(''), 'missing')).toMatchObject({ kind: 'unknown' });
    expect(classifyPaybyAnswer('cancel', http('{"head":'), 'valid')).toMatchObject({ kind: 'unknown' });
  });
  test('a success whose signature does not verify, or is missing, is never a success', () => {
    for (const verdict of ['invalid', 'missing'] as const) {
      expect(
        classifyPaybyAnswer('cancel', http(payby('0', { body: order('FAILURE') })), verdict),
      ).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });
      expect(classifyPaybyAnswer('cancel', http(payby('62001')), verdict)).toMatchObject({
        kind: 'unknown',
        code: 'BAD_SIGNATURE',
      });
    }
  });
  test('malformed answers: missing fields, wrong types, unknown status → unknown', () => {
    expect(classifyPaybyAnswer('cancel', http({ head: { code: 0 } }), 'valid')).toMatchObject({
      kind: 'unknown',
    });
    expect(classifyPaybyAnswer('cancel', http(payby('0')), 'valid')).toMatchObject({ kind: 'unknown' });
    expect(
      classifyPaybyAnswer('cancel', http(payby('0', { body: order('CANCELLED') })), 'valid'),
    ).toMatchObject({ kind: 'unknown' });
    expect(
      classifyPaybyAnswer(
        'cancel',
        http(payby('0', { body: order('FAILURE', { totalAmount: { currency: 'AED', amount: 21.745 } }) })),
        'valid',
      ),
    ).toMatchObject({ kind: 'unknown' });
  });
  test('getOrder: CREATED → resubmit, PAID_SUCCESS/SETTLED → refused, revoked → refused', () => {
    expect(classifyPaybyAnswer('query', http(payby('0', { body: order('CREATED') })), valid)).toMatchObject({
      kind: 'resubmit',
    });
    expect(classifyPaybyAnswer('cancel', http(payby('0', { body: order('CREATED') })), valid)).toMatchObject({
      kind: 'pending',
    });
    expect(
      classifyPaybyAnswer('query', http(payby('0', { body: order('PAID_SUCCESS') })), valid),
    ).toMatchObject({ kind: 'refused', code: 'ORDER_PAID' });
    expect(classifyPaybyAnswer('query', http(payby('0', { body: order('SETTLED') })), valid)).toMatchObject({
      kind: 'refused',
      code: 'ORDER_SETTLED',
    });
    expect(
      classifyPaybyAnswer('query', http(payby('0', { body: order('FAILURE', { revoked: 'true' }) })), valid),
    ).toMatchObject({ kind: 'refused', code: 'ORDER_REVOKED' });
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
      classifyUnifiedAnswer(
        'cancel',
        http(signed({ cancelOrderId: 'C1', state: 2, channelOrderNo: 'CH1' })),
        KEY,
      ),
    ).toEqual({
      outcome: { kind: 'cancelled', providerCancelId: 'C1', channelOrderNo: 'CH1' },
      signature: 'valid',
    });
    expect(
      classifyUnifiedAnswer(
        'cancel',
        http(signed({ cancelOrderId: 'C1', state: 3, errCode: '1002', errMsg: 'Close exception' })),
        KEY,
      ).outcome,
    ).toMatchObject({ kind: 'refused', state: 3, code: '1002' });
    expect(
      classifyUnifiedAnswer('cancel', http(signed({ cancelOrderId: 'C1', state: 4 })), KEY).outcome,
    ).toMatchObject({ kind: 'refused', state: 4 });
  });
  test('code 0 with state 0 / 1 → pending with the gateway cancel id', () => {
    expect(
      classifyUnifiedAnswer('cancel', http(signed({ cancelOrderId: 'C9', state: 1 })), KEY).outcome,
    ).toEqual({ kind: 'pending', state: 1, providerCancelId: 'C9' });
    expect(
      classifyUnifiedAnswer('query', http(signed({ cancelOrderId: 'C9', state: 0 })), KEY).outcome,
    ).toMatchObject({ kind: 'pending', state: 0 });
  });
  test('a success signed with another key, or unsigned, is untrusted', () => {
    const data = { cancelOrderId: 'C1', state: 2 };
    expect(
      classifyUnifiedAnswer('cancel', http({ code: 0, data, sign: md5Sign(data, 'other') }), KEY),
    ).toMatchObject({ outcome: { kind: 'unknown', code: 'BAD_SIGNATURE' }, signature: 'invalid' });
    expect(classifyUnifiedAnswer('cancel', http({ code: 0, data }), KEY)).toMatchObject({
      outcome: { kind: 'unknown' },
      signature: 'missing',
    });
  });
  test('HTTP 200 with an empty body, non-JSON, 5xx → unknown', () => {
    expect(classifyUnifiedAnswer('cancel', http(''), KEY).outcome.kind).toBe('unknown');
    expect(classifyUnifiedAnswer('cancel', http('oops'), KEY).outcome.kind).toBe('unknown');
    expect(classifyUnifiedAnswer('cancel', http({ code: 0 }, 503), KEY).outcome.kind).toBe('unknown');
  });
  test('signed but malformed data (missing cancelOrderId, state out of range) → unknown', () => {
    expect(classifyUnifiedAnswer('cancel', http(signed({ state: 2 })), KEY).outcome.kind).toBe('unknown');
    expect(
      classifyUnifiedAnswer('cancel', http(signed({ cancelOrderId: 'C1', state: 7 })), KEY).outcome.kind,
    ).toBe('unknown');
  });
  test('error answers: a cancel refusal is terminal, a query error is unknown, a signature refusal is misconfiguration', () => {
    expect(
      classifyUnifiedAnswer('cancel', http({ code: 9999, msg: 'order not exist' }), KEY).outcome,
    ).toMatchObject({ kind: 'refused', code: 'UNIFIED_9999' });
    expect(
      classifyUnifiedAnswer('query', http({ code: 9999, msg: 'order not exist' }), KEY).outcome.kind,
    ).toBe('unknown');
    expect(
      classifyUnifiedAnswer('cancel', http({ code: 9998, msg: 'Signature failed' }), KEY).outcome,
    ).toMatchObject({ kind: 'misconfigured' });
    expect(
      classifyUnifiedAnswer('query', http({ code: 9999, msg: 'merchant app does not exist' }), KEY).outcome,
    ).toMatchObject({ kind: 'misconfigured' });
  });
  test('a refused reqTime is retryable with a fresh one, never a refusal of the cancel', () => {
    expect(
      classifyUnifiedAnswer('cancel', http({ code: 9999, msg: 'reqTime expired' }), KEY).outcome,
    ).toMatchObject({ kind: 'unknown', code: 'REQTIME' });
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
