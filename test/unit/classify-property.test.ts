import fc from 'fast-check';
import type { HttpAnswer } from '../../providers/http';
import { classifyPaybyAnswer } from '../../providers/payby/classify';
import type {
  CancelOutcome,
  OrderRef,
  OutcomeKind,
  ProviderOperation,
  SignatureVerdict,
} from '../../providers/types';
import { classifyUnifiedAnswer } from '../../providers/unified/classify';
import { md5Sign } from '../../providers/unified/sign';

/**
 * Properties of the classifiers over arbitrary answers: whatever a provider (or anyone on the
 * path) sends, `cancelled` comes only from a verified answer about the order we asked about whose
 * status says cancelled, and `refused` only from a verified answer about that order (or from an
 * error answer the protocol allows unsigned and this code lists). The oracles below read the raw
 * answer on their own; they share nothing with the classifiers but the MD5 signing function.
 */

const RUNS = 3_000;

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const absent = (value: unknown): boolean => value === undefined || value === null || value === '';

/** Counts what the runs produced, so that a property cannot pass by never reaching a kind. */
function tally() {
  const seen = new Map<string, number>();
  return {
    add(outcome: CancelOutcome) {
      const key =
        outcome.kind === 'unknown' && outcome.code === 'MISADDRESSED' ? 'misaddressed' : outcome.kind;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    },
    seen: (key: OutcomeKind | 'misaddressed') => seen.get(key) ?? 0,
  };
}

function checkFacts(outcome: CancelOutcome, asked: OrderRef): void {
  if (outcome.kind !== 'cancelled' && outcome.kind !== 'refused' && outcome.kind !== 'pending') return;
  if (outcome.payOrderId !== undefined && asked.payOrderId) expect(outcome.payOrderId).toBe(asked.payOrderId);
  if (outcome.mchOrderNo !== undefined && asked.mchOrderNo) expect(outcome.mchOrderNo).toBe(asked.mchOrderNo);
  if (outcome.amount) {
    expect(Number.isSafeInteger(outcome.amount.minor) && outcome.amount.minor >= 0).toBe(true);
    expect(outcome.amount.currency).toMatch(/^[A-Z]{3}$/);
  }
}

/** Small pools, so that answers name the asked order about as often as another one. */
const text = (...pool: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, null, '') },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.jsonValue({ maxDepth: 1 })),
    },
  );

const transportFailure: fc.Arbitrary<HttpAnswer> = fc
  .constantFrom('ETIMEDOUT', 'ECONNRESET', 'ERR_RESPONSE_TOO_LARGE')
  .map((code) => ({ ok: false, code, error: `${code}: failed`, latencyMs: 1 }));

function answerOf(body: fc.Arbitrary<string>): fc.Arbitrary<HttpAnswer> {
  return fc
    .oneof(
      {
        weight: 12,
        arbitrary: fc.record({
          status: fc.oneof(
            { weight: 8, arbitrary: fc.constant(200) },
            fc.constantFrom(400, 403, 404, 429, 500, 502),
          ),
          body,
        }),
      },
      { weight: 1, arbitrary: transportFailure },
    )
    .map((a) =>
      'status' in a ? { ok: true, status: a.status, headers: {}, body: a.body, latencyMs: 1 } : a,
    );
}

function bodyOf(envelope: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 16, arbitrary: envelope.map((e) => JSON.stringify(e)) },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.constantFrom('', '   ', '{"head":', '<html>bad gateway</html>') },
  );
}

describe('PayBy classifier properties', () => {
  const ORDER_NOS = ['131422372621002238', '131422372621002239'];
  const MCH_NOS = ['M1', 'M2'];
  const STATUSES = ['CREATED', 'PAID_SUCCESS', 'SETTLED', 'FAILURE'];
  const CODES = [
    '400',
    '402',
    '403',
    '404',
    '500',
    '504',
    '601',
    '62001',
    '62002',
    '62003',
    '62004',
    '62035',
  ];

  const asked: fc.Arbitrary<OrderRef> = fc.record(
    { payOrderId: fc.constantFrom(...ORDER_NOS), mchOrderNo: fc.constantFrom(...MCH_NOS) },
    { requiredKeys: [] },
  );
  const acquireOrder = fc.record(
    {
      merchantOrderNo: text(...MCH_NOS),
      orderNo: text(...ORDER_NOS),
      status: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...STATUSES) }, fc.string({ maxLength: 12 })),
      revoked: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('false', 'true') },
        fc.constantFrom('TRUE', ' true ', 'False', '', undefined, null, true, false, 'yes', 1),
      ),
      totalAmount: fc.oneof(
        fc.record({
          currency: fc.constantFrom('AED', 'aed', 'KWD', 'JPY', 'XX', 'AEDX'),
          amount: fc.oneof(
            fc.constantFrom(21.74, 21.740000000001, 21.745, 0.29, -5, 1e21, '21.74', ' 7 ', 'NaN'),
            fc.double(),
            fc.integer(),
            fc.string({ maxLength: 6 }),
          ),
        }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      failCode: fc.constantFrom('504', undefined),
    },
    { requiredKeys: ['status'] },
  );
  const envelope = fc.record(
    {
      head: fc.oneof(
        {
          weight: 12,
          arbitrary: fc.record(
            {
              applyStatus: fc.oneof(
                { weight: 8, arbitrary: fc.constantFrom('SUCCESS', 'FAIL') },
                fc.constantFrom('ERROR', 'success', ''),
              ),
              code: fc.oneof(
                { weight: 6, arbitrary: fc.constant('0') },
                { weight: 6, arbitrary: fc.constantFrom(...CODES) },
                fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
              ),
              msg: fc.oneof(
                fc.constantFrom(
                  'SUCCESS',
                  'ORDER_PAID',
                  'REQUESTTIME_TOO_EARLY',
                  'RISK_FAIL',
                  '',
                  undefined,
                  null,
                ),
                fc.string({ maxLength: 12 }),
              ),
            },
            { requiredKeys: ['applyStatus', 'code'] },
          ),
        },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      ),
      body: fc.oneof(
        { weight: 8, arbitrary: fc.record({ acquireOrder }) },
        { weight: 2, arbitrary: fc.constantFrom(undefined, null, {}) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      ),
    },
    { requiredKeys: [] },
  );
  const signature = fc.oneof(
    { weight: 6, arbitrary: fc.constant<SignatureVerdict>('valid') },
    fc.constantFrom<SignatureVerdict>('invalid', 'missing', 'not-checked', 'not-required'),
  );
  const operation = fc.constantFrom<ProviderOperation>('cancel', 'query');
  /**
   * A verified-looking SUCCESS answer that echoes the asked order, with any status and revoked
   * flag. Mixed in so that the rare kinds (cancelled, resubmit) are reached in every run, not one
   * run in a thousand; the oracle still reads every answer on its own.
   */
  const echoing = (ref: OrderRef) =>
    fc.record({
      head: fc.record({
        applyStatus: fc.constant('SUCCESS'),
        code: fc.constant('0'),
        msg: fc.constant('SUCCESS'),
      }),
      body: fc.record({
        acquireOrder: acquireOrder.map((order) => ({
          ...order,
          ...(ref.payOrderId ? { orderNo: ref.payOrderId } : {}),
          ...(ref.mchOrderNo ? { merchantOrderNo: ref.mchOrderNo } : {}),
        })),
      }),
    });
  const askedAndAnswer: fc.Arbitrary<[OrderRef, HttpAnswer]> = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(asked, answerOf(bodyOf(envelope))) },
    {
      weight: 1,
      arbitrary: asked.chain((ref) => fc.tuple(fc.constant(ref), answerOf(bodyOf(echoing(ref))))),
    },
  );

  /** What the raw answer says, read without the classifier. */
  function read(answer: HttpAnswer, ref: OrderRef) {
    const json = answer.ok && answer.status < 500 ? tryJson(answer.body) : undefined;
    const head = isRecord(json) && isRecord(json.head) ? json.head : {};
    const body = isRecord(json) ? json.body : undefined;
    const order = isRecord(body) && isRecord(body.acquireOrder) ? body.acquireOrder : undefined;
    // The request names the order by orderNo when we know it, else by merchantOrderNo.
    const [field, value] = ref.payOrderId ? ['orderNo', ref.payOrderId] : ['merchantOrderNo', ref.mchOrderNo];
    const about = (o: Record<string, unknown>) =>
      value !== undefined &&
      o[field] === value &&
      (absent(o.merchantOrderNo) || !ref.mchOrderNo || o.merchantOrderNo === ref.mchOrderNo) &&
      (absent(o.orderNo) || !ref.payOrderId || o.orderNo === ref.payOrderId);
    const revoked = order ? order.revoked : undefined;
    return {
      code: head.code,
      applyStatus: head.applyStatus,
      order,
      aboutOurs: order !== undefined && about(order),
      notAboutAnother: order === undefined || about(order),
      status: order?.status,
      notRevoked:
        revoked === undefined ||
        revoked === null ||
        revoked === '' ||
        revoked === false ||
        revoked === 'false' ||
        revoked === 'False',
    };
  }

  test('cancelled only from a valid signature, about the asked order, status FAILURE; refused only from a verified or listed answer about it', () => {
    const kinds = tally();
    fc.assert(
      fc.property(
        operation,
        askedAndAnswer,
        signature,
        fc.integer({ min: 1, max: 2 ** 45 }),
        (op, [ref, answer], verdict, receivedAt) => {
          const outcome = classifyPaybyAnswer(op, answer, verdict, { order: ref, receivedAt });
          kinds.add(outcome);
          const said = read(answer, ref);
          const verifiedSuccess = verdict === 'valid' && said.code === '0' && said.applyStatus === 'SUCCESS';
          switch (outcome.kind) {
            case 'cancelled':
              expect(verifiedSuccess && said.aboutOurs && said.status === 'FAILURE' && said.notRevoked).toBe(
                true,
              );
              expect(outcome.successTime).toBe(receivedAt);
              if (outcome.providerOrderNo !== undefined)
                expect(outcome.providerOrderNo).toBe(said.order?.orderNo);
              break;
            case 'refused': {
              const signedRefusal =
                verdict === 'valid' &&
                ['62001', '62003', '62004', '62035'].includes(said.code as string) &&
                said.notAboutAnother &&
                outcome.code === said.code;
              const refusingStatus =
                verifiedSuccess &&
                said.aboutOurs &&
                (said.status === 'PAID_SUCCESS' || said.status === 'SETTLED' || said.status === 'FAILURE');
              // 601 RISK_FAIL may come unsigned (PROVIDERS.md) and refuses a cancel, never a query.
              const listedUnsigned =
                said.code === '601' && op === 'cancel' && said.notAboutAnother && outcome.code === '601';
              expect(signedRefusal || refusingStatus || listedUnsigned).toBe(true);
              expect(outcome.state).toBe(3);
              expect(outcome.code).toMatch(/^(601|62\d{3})$/);
              break;
            }
            case 'pending':
              expect(verdict).toBe('valid');
              expect(
                said.code === '62002' ||
                  (verifiedSuccess && said.aboutOurs && said.status === 'CREATED' && op === 'cancel'),
              ).toBe(true);
              break;
            case 'resubmit':
              expect(verifiedSuccess && said.aboutOurs && said.status === 'CREATED' && op === 'query').toBe(
                true,
              );
              expect(outcome.authoritative).toBe(true);
              break;
            case 'misconfigured':
              expect(['400', '403'].includes(said.code as string) || said.applyStatus === 'ERROR').toBe(true);
              break;
            case 'unknown':
              if (outcome.code === 'MISADDRESSED') expect(said.notAboutAnother).toBe(false);
              break;
          }
          checkFacts(outcome, ref);
        },
      ),
      { numRuns: RUNS },
    );
    for (const kind of [
      'cancelled',
      'refused',
      'pending',
      'resubmit',
      'unknown',
      'misconfigured',
      'misaddressed',
    ] as const)
      expect(kinds.seen(kind)).toBeGreaterThan(0);
  });

  test('the signature and the order decide, not the amount: a verified FAILURE about our order is cancelled whatever totalAmount says', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ProviderOperation>('cancel', 'query'),
        fc.oneof(
          fc.jsonValue(),
          fc.record({ currency: fc.string({ maxLength: 4 }), amount: fc.oneof(fc.double(), fc.string()) }),
        ),
        (op, totalAmount) => {
          const body = JSON.stringify({
            head: { applyStatus: 'SUCCESS', code: '0', msg: 'SUCCESS' },
            body: {
              acquireOrder: {
                merchantOrderNo: 'M1',
                orderNo: '131',
                status: 'FAILURE',
                revoked: 'false',
                totalAmount,
              },
            },
          });
          const answer: HttpAnswer = { ok: true, status: 200, headers: {}, body, latencyMs: 1 };
          const outcome = classifyPaybyAnswer(op, answer, 'valid', {
            order: { mchOrderNo: 'M1' },
            receivedAt: 5,
          });
          expect(outcome).toMatchObject({
            kind: 'cancelled',
            payOrderId: '131',
            mchOrderNo: 'M1',
            successTime: 5,
          });
          checkFacts(outcome, {});
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('Unified classifier properties', () => {
  const KEY = 'gateway-key';
  const CANCEL_IDS = ['C1', 'C2'];
  const PAY_IDS = ['P1', 'P2'];
  const MCH_NOS = ['MO-1', 'MO-2'];

  const context = fc.record({
    order: fc.record(
      { payOrderId: fc.constantFrom(...PAY_IDS), mchOrderNo: fc.constantFrom(...MCH_NOS) },
      { requiredKeys: [] },
    ),
    providerCancelId: fc.option(fc.constantFrom(...CANCEL_IDS), { nil: undefined }),
  });
  const data = fc.record(
    {
      cancelOrderId: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...CANCEL_IDS) },
        fc.constantFrom('', 7, null),
        fc.string({ maxLength: 40 }),
      ),
      state: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(0, 1, 2, 3, 4) },
        fc.constantFrom('2', '3', 2.5, -1, 7, '02'),
        fc.jsonValue({ maxDepth: 0 }),
      ),
      payOrderId: text(...PAY_IDS),
      mchOrderNo: text(...MCH_NOS),
      payAmount: fc.oneof(
        fc.constantFrom(58, '58', 1.5, -1, '1e3'),
        fc.integer(),
        fc.jsonValue({ maxDepth: 0 }),
      ),
      currency: fc.constantFrom('HKD', 'hkd', 'HONGKONG', '', undefined),
      successTime: fc.oneof(
        fc.constantFrom(
          1623985554000,
          '1623985554000',
          1623985554,
          '1623985554',
          162398555412,
          'yesterday',
          -1,
          0,
        ),
        fc.integer(),
        fc.jsonValue({ maxDepth: 0 }),
      ),
      errCode: fc.constantFrom('', '1002', '62001', undefined, 1002),
      errMsg: fc.constantFrom('', 'Close exception', undefined),
      channelOrderNo: fc.constantFrom('', '2021061822001423031419593035', undefined),
    },
    { requiredKeys: [] },
  );
  type SignMode = 'valid' | 'valid-lower' | 'other-key' | 'missing' | 'garbage';
  const envelope = fc
    .record(
      {
        code: fc.oneof(
          { weight: 6, arbitrary: fc.constant(0) },
          fc.constantFrom('0', 9999, '9999', 9998, -1, '00'),
        ),
        msg: fc.oneof(
          {
            weight: 3,
            arbitrary: fc.constantFrom(
              'SUCCESS',
              'Signature failed',
              'mchNo not exist',
              'parameter error',
              'reqTime expired',
              'order status not allowed',
              'order does not exist',
              '',
              undefined,
            ),
          },
          fc.string({ maxLength: 12 }),
        ),
        data: fc.oneof(
          { weight: 8, arbitrary: data },
          fc.constantFrom(undefined, null, {}),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        signMode: fc.oneof(
          { weight: 6, arbitrary: fc.constant<SignMode>('valid') },
          fc.constantFrom<SignMode>('valid-lower', 'other-key', 'missing', 'garbage'),
        ),
      },
      { requiredKeys: ['code', 'signMode'] },
    )
    .map(({ signMode, ...rest }) => {
      const signed = isRecord(rest.data) ? md5Sign(rest.data, signMode === 'other-key' ? 'other' : KEY) : 'X';
      const sign = {
        valid: signed,
        'valid-lower': signed.toLowerCase(),
        'other-key': signed,
        missing: undefined,
        garbage: 'zz',
      }[signMode];
      return { ...rest, ...(sign !== undefined ? { sign } : {}) };
    });
  const operation = fc.constantFrom<ProviderOperation>('cancel', 'query');

  function read(
    answer: HttpAnswer,
    op: ProviderOperation,
    asked: { order: OrderRef; providerCancelId?: string },
  ) {
    const json = answer.ok && answer.status < 500 ? tryJson(answer.body) : undefined;
    const envelope = isRecord(json) ? json : {};
    const code = envelope.code;
    const codeNumber =
      typeof code === 'number' && Number.isInteger(code)
        ? code
        : typeof code === 'string' && /^-?\d+$/.test(code)
          ? Number(code)
          : Number.NaN;
    const data = isRecord(envelope.data) ? envelope.data : undefined;
    // The signature covers `data`: recomputed here over what was received.
    const verified =
      codeNumber === 0 &&
      data !== undefined &&
      typeof envelope.sign === 'string' &&
      envelope.sign.toUpperCase() === md5Sign(data, KEY);
    const same = (value: unknown, ours: string | undefined) =>
      absent(value) ||
      !ours ||
      ((typeof value === 'string' || typeof value === 'number') && String(value) === ours);
    const namesNoOther =
      data === undefined ||
      (same(data.cancelOrderId, asked.providerCancelId) &&
        same(data.payOrderId, asked.order.payOrderId) &&
        same(data.mchOrderNo, asked.order.mchOrderNo));
    const aboutOurs =
      data !== undefined &&
      typeof data.cancelOrderId === 'string' &&
      (op === 'cancel' || asked.providerCancelId !== undefined) &&
      namesNoOther;
    const state = data
      ? typeof data.state === 'string' && /^\d$/.test(data.state)
        ? Number(data.state)
        : data.state
      : undefined;
    return {
      codeNumber,
      data,
      verified,
      aboutOurs,
      namesNoOther,
      state,
      status: answer.ok ? answer.status : 0,
    };
  }

  test('cancelled only from a valid signature over data about the asked order and cancel order, state 2; refused only from a verified answer about it or an error answer to a cancel', () => {
    const kinds = tally();
    fc.assert(
      fc.property(operation, answerOf(bodyOf(envelope)), context, (op, answer, asked) => {
        const { outcome, signature } = classifyUnifiedAnswer(op, answer, KEY, asked);
        kinds.add(outcome);
        const said = read(answer, op, asked);
        switch (outcome.kind) {
          case 'cancelled':
            expect(said.verified && said.aboutOurs && said.state === 2).toBe(true);
            expect(signature).toBe('valid');
            expect(outcome.providerCancelId).toBe(said.data?.cancelOrderId);
            if (outcome.successTime !== undefined)
              expect(outcome.successTime >= 1e12 && outcome.successTime < 1e13).toBe(true);
            break;
          case 'refused': {
            const verifiedRefusal = said.verified && said.aboutOurs && (said.state === 3 || said.state === 4);
            // Seed 000: an error answer (code ≠ 0) may be unsigned; to a cancel it is the gateway's no.
            const errorAnswer =
              Number.isInteger(said.codeNumber) &&
              said.codeNumber !== 0 &&
              op === 'cancel' &&
              said.status <= 400 &&
              said.namesNoOther &&
              outcome.code === String(said.codeNumber);
            expect(verifiedRefusal || errorAnswer).toBe(true);
            if (verifiedRefusal) expect(signature).toBe('valid');
            break;
          }
          case 'pending':
            expect(said.verified && said.aboutOurs && (said.state === 0 || said.state === 1)).toBe(true);
            break;
          case 'resubmit':
            throw new Error('the classifier never asks for a resubmit; only the adapter does');
          case 'misconfigured':
            expect(said.codeNumber !== 0).toBe(true);
            break;
          case 'unknown':
            if (outcome.code === 'MISADDRESSED') expect(said.aboutOurs).toBe(false);
            break;
        }
        checkFacts(outcome, asked.order);
      }),
      { numRuns: RUNS },
    );
    for (const kind of [
      'cancelled',
      'refused',
      'pending',
      'unknown',
      'misconfigured',
      'misaddressed',
    ] as const)
      expect(kinds.seen(kind)).toBeGreaterThan(0);
  });
});
