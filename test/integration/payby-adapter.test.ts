import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Secret } from '../../common/secret';
import type { PaybyAccount } from '../../common/config';
import { buildPaybyRequest, createPaybyAdapter } from '../../providers/payby/adapter';
import { classifyPaybyAnswer } from '../../providers/payby/classify';
import { postRaw } from '../../providers/http';
import { privateKeyFrom, publicKeyFrom } from '../../providers/payby/sign';
import type { ProviderAdapter } from '../../providers/types';
import { startPaybySandbox, type PaybySandbox } from '../../sandbox/payby';

const KEYS = path.resolve(__dirname, '..', 'fixtures', 'keys');
const pem = (name: string): string => readFileSync(path.join(KEYS, name), 'utf8');

let sandbox: PaybySandbox;
let adapter: ProviderAdapter;

function account(overrides: Partial<PaybyAccount> = {}): PaybyAccount {
  return {
    id: 'payby-test',
    provider: 'payby',
    baseUrl: sandbox.url,
    partnerId: '200000000888',
    privateKey: new Secret(pem('merchant-private.pem')),
    providerPublicKey: new Secret(pem('provider-public.pem')),
    ...overrides,
  };
}

beforeAll(async () => {
  sandbox = await startPaybySandbox({
    merchantPublicKey: publicKeyFrom(pem('merchant-public.pem')),
    providerPrivateKey: privateKeyFrom(pem('provider-private.pem')),
    wrongPrivateKey: privateKeyFrom(pem('other-private.pem')),
  });
  adapter = createPaybyAdapter(account(), { connectMs: 1_000, responseMs: 1_000 });
});
afterAll(() => sandbox.close());

const cancel = (mchOrderNo: string) => adapter.submitCancel({ order: { mchOrderNo } });
const query = (mchOrderNo: string) => adapter.queryCancel({ order: { mchOrderNo } });

describe('PayBy adapter against the PayBy sandbox', () => {
  test('cancelled at once: verified answer, exact amount, full audit record', async () => {
    sandbox.setOrder('M-ok', { status: 'CREATED', amount: 21.74 }, '131422372621002238');
    const before = Date.now();
    const { outcome, exchange } = await cancel('M-ok');
    expect(outcome).toMatchObject({
      kind: 'cancelled',
      providerOrderNo: '131422372621002238',
      payOrderId: '131422372621002238',
      mchOrderNo: 'M-ok',
      amount: { minor: 2174, currency: 'AED' },
    });
    // successTime: when the verified answer was received.
    const successTime = outcome.kind === 'cancelled' ? outcome.successTime : undefined;
    expect(successTime).toBeGreaterThanOrEqual(before);
    expect(successTime).toBeLessThanOrEqual(Date.now());
    expect(exchange).toMatchObject({
      operation: 'cancel',
      httpStatus: 200,
      signature: 'valid',
      url: `${sandbox.url}/acquire2/cancelOrder`,
    });
    expect(JSON.stringify(exchange)).not.toContain('PRIVATE KEY');
    expect(sandbox.order('M-ok')!.status).toBe('FAILURE');
  });

  test('already paid, settled → refused; already failed → pending, and getOrder confirms it cancelled', async () => {
    sandbox.setOrder('M-paid', { status: 'PAID_SUCCESS' });
    sandbox.setOrder('M-settled', { status: 'SETTLED' });
    sandbox.setOrder('M-failed', { status: 'FAILURE', amount: 0.29 });
    expect((await cancel('M-paid')).outcome).toMatchObject({
      kind: 'refused',
      code: '62001',
      message: 'ORDER_PAID',
    });
    expect((await cancel('M-settled')).outcome).toMatchObject({
      kind: 'refused',
      code: '62003',
      message: 'ORDER_SETTLED',
    });
    // getOrder of such an order: the codes PayBy gives a cancel of it.
    expect((await query('M-paid')).outcome).toMatchObject({
      kind: 'refused',
      code: '62001',
      mchOrderNo: 'M-paid',
    });
    expect((await query('M-settled')).outcome).toMatchObject({ kind: 'refused', code: '62003' });
    expect((await cancel('M-failed')).outcome).toMatchObject({ kind: 'pending' });
    expect((await query('M-failed')).outcome).toMatchObject({ kind: 'cancelled', amount: { minor: 29 } });
  });

  test('not found by merchantOrderNo or by orderNo', async () => {
    expect((await cancel('M-nobody')).outcome).toMatchObject({
      kind: 'refused',
      code: '62004',
      message: 'MERCHANT_ORDER_NO_NOT_EXIST',
    });
    expect((await adapter.submitCancel({ order: { payOrderId: '999' } })).outcome).toMatchObject({
      kind: 'refused',
      code: '62035',
      message: 'ORDER_NO_NOT_EXIST',
    });
  });

  test.each([
    ['http402'],
    ['http500'],
    ['http504'],
    ['timeout'],
    ['reset'],
    ['empty'],
    ['oversized'],
  ] as const)('transient %s → unknown, then fine on the next attempt', async (fault) => {
    const ref = `M-${fault}`;
    sandbox.setOrder(ref, { status: 'CREATED', faults: [fault] });
    const first = await cancel(ref);
    expect(first.outcome.kind).toBe('unknown');
    expect(first.exchange?.latencyMs).toBeGreaterThanOrEqual(0);
    expect((await query(ref)).outcome).toMatchObject({ kind: 'resubmit', authoritative: true });
    expect((await cancel(ref)).outcome).toMatchObject({ kind: 'cancelled' });
  });

  test('cancel applied but the response lost → unknown; the query shows it cancelled', async () => {
    sandbox.setOrder('M-lost', { status: 'CREATED', loseCancelResponse: true });
    expect((await cancel('M-lost')).outcome).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    expect((await query('M-lost')).outcome).toMatchObject({ kind: 'cancelled' });
    expect(sandbox.order('M-lost')!.calls).toEqual(['cancel', 'query']);
  });

  test('an answer signed with the wrong key is never a success', async () => {
    sandbox.setOrder('M-forged', { status: 'CREATED', badSignature: true });
    const { outcome, exchange } = await cancel('M-forged');
    expect(outcome).toMatchObject({ kind: 'unknown', code: 'BAD_SIGNATURE' });
    expect(exchange?.signature).toBe('invalid');
  });

  test('malformed JSON → unknown with the reason recorded', async () => {
    sandbox.setOrder('M-garbage', { status: 'CREATED', malformedJson: true });
    const { outcome } = await cancel('M-garbage');
    expect(outcome).toMatchObject({ kind: 'unknown' });
    expect(outcome.kind === 'unknown' && outcome.reason).toMatch(/not JSON/);
  });

  test('our signature refused (wrong merchant key) → misconfigured', async () => {
    sandbox.setOrder('M-badkey', { status: 'CREATED' });
    const wrong = createPaybyAdapter(account({ privateKey: new Secret(pem('other-private.pem')) }));
    expect((await wrong.submitCancel({ order: { mchOrderNo: 'M-badkey' } })).outcome).toMatchObject({
      kind: 'misconfigured',
      code: '400',
      message: expect.stringContaining('could not verify our signature'),
    });
    expect(sandbox.order('M-badkey')!.status).toBe('CREATED');
  });

  test('a stale requestTime is refused by the sandbox and classified as retryable', async () => {
    sandbox.setOrder('M-stale', { status: 'CREATED' });
    const stale = buildPaybyRequest(
      '200000000888',
      privateKeyFrom(pem('merchant-private.pem')),
      { mchOrderNo: 'M-stale' },
      Date.now() - 16 * 60_000,
    );
    const answer = await postRaw(`${sandbox.url}/acquire2/cancelOrder`, stale.headers, stale.body);
    expect(
      classifyPaybyAnswer('cancel', answer, 'missing', {
        order: { mchOrderNo: 'M-stale' },
        receivedAt: Date.now(),
      }),
    ).toMatchObject({
      kind: 'unknown',
      code: 'REQUESTTIME',
    });
    expect((await cancel('M-stale')).outcome).toMatchObject({ kind: 'cancelled' });
  });

  test('a correctly signed answer about another order never settles ours: MISADDRESSED', async () => {
    sandbox.setOrder('M-elsewhere', { status: 'CREATED', misaddressed: true }, '131422372621005550');
    const submitted = await cancel('M-elsewhere');
    expect(submitted.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(submitted.outcome.kind === 'unknown' && submitted.outcome.reason).toMatch(
      /"M-elsewhere".*"M-elsewhere1"/,
    );
    expect(submitted.exchange?.signature).toBe('valid');
    // PayBy did cancel our order; only the answer named another one. Neither number helps.
    expect(sandbox.order('M-elsewhere')!.status).toBe('FAILURE');
    expect((await query('M-elsewhere')).outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    const byOrderNo = await adapter.queryCancel({ order: { payOrderId: '131422372621005550' } });
    expect(byOrderNo.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
    expect(byOrderNo.outcome.kind === 'unknown' && byOrderNo.outcome.reason).toMatch(
      /131422372621005550.*131422372621005551/,
    );
    // Not even a refusal is believed when the order it describes is another one.
    sandbox.setOrder('M-elsewhere-paid', { status: 'PAID_SUCCESS', misaddressed: true });
    expect((await query('M-elsewhere-paid')).outcome).toMatchObject({
      kind: 'unknown',
      code: 'MISADDRESSED',
    });
  });

  test('the answer about our order teaches the other number; asked by both, both must agree', async () => {
    sandbox.setOrder('M-both', { status: 'FAILURE' }, '131422372621006660');
    expect((await query('M-both')).outcome).toMatchObject({
      kind: 'cancelled',
      payOrderId: '131422372621006660',
      mchOrderNo: 'M-both',
    });
    const both = await adapter.queryCancel({
      order: { payOrderId: '131422372621006660', mchOrderNo: 'M-both' },
    });
    expect(both.outcome).toMatchObject({ kind: 'cancelled', payOrderId: '131422372621006660' });
    const mixed = await adapter.queryCancel({
      order: { payOrderId: '131422372621006660', mchOrderNo: 'M-other' },
    });
    expect(mixed.outcome).toMatchObject({ kind: 'unknown', code: 'MISADDRESSED' });
  });
});
