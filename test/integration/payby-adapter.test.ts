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
    sandbox.setOrder('M-ok', { status: 'CREATED', amount: 21.74 });
    const { outcome, exchange } = await cancel('M-ok');
    expect(outcome).toMatchObject({ kind: 'cancelled', amount: { minor: 2174, currency: 'AED' } });
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
    expect((await cancel('M-paid')).outcome).toMatchObject({ kind: 'refused', code: 'ORDER_PAID' });
    expect((await cancel('M-settled')).outcome).toMatchObject({ kind: 'refused', code: 'ORDER_SETTLED' });
    expect((await cancel('M-failed')).outcome).toMatchObject({ kind: 'pending' });
    expect((await query('M-failed')).outcome).toMatchObject({ kind: 'cancelled', amount: { minor: 29 } });
  });

  test('not found by merchantOrderNo or by orderNo', async () => {
    expect((await cancel('M-nobody')).outcome).toMatchObject({
      kind: 'refused',
      code: 'MERCHANT_ORDER_NO_NOT_EXIST',
    });
    expect((await adapter.submitCancel({ order: { payOrderId: '999' } })).outcome).toMatchObject({
      kind: 'refused',
      code: 'ORDER_NO_NOT_EXIST',
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
    expect((await query(ref)).outcome).toMatchObject({ kind: 'resubmit' });
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
      code: 'PAYBY_SIGNATURE_REJECTED',
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
    expect(classifyPaybyAnswer('cancel', answer, 'missing')).toMatchObject({
      kind: 'unknown',
      code: 'REQUESTTIME',
    });
    expect((await cancel('M-stale')).outcome).toMatchObject({ kind: 'cancelled' });
  });
});
