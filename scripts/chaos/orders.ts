/** The planned orders: each one's behaviour drawn from a seeded generator and set up in its sandbox. */
import type { PaybyOrderBehaviour, PaybySandbox } from '../../sandbox/payby';
import type { SandboxFault } from '../../sandbox/http';
import type { UnifiedOrderBehaviour, UnifiedSandbox } from '../../sandbox/unified';
import type { MerchantApp } from './northbound';

export interface PlannedOrder {
  i: number;
  app: MerchantApp;
  provider: 'payby' | 'unified';
  fields: Record<string, string>;
  /** As cancellations.order_ref spells it. */
  orderRef: string;
  /** PayBy: merchantOrderNo; Unified: payOrderId. Undefined: the provider has no such order. */
  sandboxRef: string | undefined;
  behaviour: string;
  form: boolean;
  repeat: boolean;
  api: number;
}

/** mulberry32: small, seeded, good enough to draw behaviours reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted<T extends string>(r: number, table: Array<[T, number]>): T {
  const total = table.reduce((s, [, w]) => s + w, 0);
  let x = r * total;
  for (const [v, w] of table) if ((x -= w) < 0) return v;
  return table[table.length - 1]![0];
}

type Fault =
  | 'e500x2'
  | 'e504x1'
  | 'e402x1'
  | 'reset'
  | 'empty'
  | 'timeout'
  | 'lost'
  | 'lostrefuse'
  | 'garbage'
  | 'badsig';
const PAYBY_FAULTS: Array<[Fault, number]> = [
  ['e500x2', 3],
  ['e504x1', 2],
  ['e402x1', 1],
  ['reset', 2],
  ['empty', 2],
  ['timeout', 1],
  ['lost', 3],
  ['garbage', 1],
  ['badsig', 1],
];
const UNIFIED_FAULTS: Array<[Fault, number]> = [
  ['e500x2', 3],
  ['e504x1', 2],
  ['reset', 2],
  ['empty', 2],
  ['timeout', 1],
  ['lost', 3],
  ['lostrefuse', 1],
  ['garbage', 1],
  ['badsig', 1],
];
const TRANSPORT: Partial<Record<Fault, SandboxFault[]>> = {
  e500x2: ['http500', 'http500'],
  e504x1: ['http504'],
  e402x1: ['http402'],
  reset: ['reset'],
  empty: ['empty'],
  timeout: ['timeout'],
};

function faultFields(f: Fault | undefined) {
  return {
    ...(f && TRANSPORT[f] ? { faults: TRANSPORT[f] } : {}),
    ...(f === 'lost' || f === 'lostrefuse' ? { loseCancelResponse: true } : {}),
    ...(f === 'garbage' ? { malformedJson: true } : {}),
    ...(f === 'badsig' ? { badSignature: true } : {}),
  };
}

/** Sets every order up in its sandbox and returns the plan. */
export function planOrders(o: {
  n: number;
  seed: number;
  faultRate: number;
  repeatRate: number;
  apps: MerchantApp[];
  payby: PaybySandbox;
  unified: UnifiedSandbox;
  notifyUrl: string;
}): PlannedOrder[] {
  const rand = prng(o.seed);
  const tag = (o.seed % 46656).toString(36).padStart(3, '0').toUpperCase();
  const paybyApps = o.apps.filter((a) => a.account.startsWith('payby'));
  const unifiedApps = o.apps.filter((a) => !a.account.startsWith('payby'));
  const orders: PlannedOrder[] = [];
  for (let i = 0; i < o.n; i++) {
    const faulty = rand() < o.faultRate;
    const common = {
      i,
      form: rand() < 0.3,
      repeat: rand() < o.repeatRate,
      api: i % 2,
    };
    const mchOrderNo = `CH${tag}${String(i).padStart(7, '0')}`;
    if (rand() < 0.5) {
      const app = paybyApps[i % paybyApps.length]!;
      const base = weighted(rand(), [
        ['created', 70],
        ['paid', 15],
        ['failed', 10],
        ['notfound', 5],
      ] as const);
      const f = faulty ? weighted(rand(), PAYBY_FAULTS) : undefined;
      if (base !== 'notfound') {
        const behaviour: PaybyOrderBehaviour = {
          status: base === 'created' ? 'CREATED' : base === 'paid' ? 'PAID_SUCCESS' : 'FAILURE',
          amount: 10 + (i % 997) / 100,
          currency: 'AED',
          ...faultFields(f),
        };
        o.payby.setOrder(mchOrderNo, behaviour);
      }
      orders.push({
        ...common,
        app,
        provider: 'payby',
        fields: { mchOrderNo, notifyUrl: o.notifyUrl, extParam: `chaos-${i}` },
        orderRef: `mch:${mchOrderNo}`,
        sandboxRef: base === 'notfound' ? undefined : mchOrderNo,
        behaviour: `payby/${base}${f ? `+${f}` : ''}`,
      });
    } else {
      const app = unifiedApps[i % unifiedApps.length]!;
      const base = weighted(rand(), [
        ['cancelled', 45],
        ['pending', 20],
        ['slowcallback', 15],
        ['paid', 12],
        ['failed', 8],
      ] as const);
      const f = faulty ? weighted(rand(), UNIFIED_FAULTS) : undefined;
      const byMch = rand() < 0.5;
      const behaviour: UnifiedOrderBehaviour = {
        ...(byMch ? { mchOrderNo } : {}),
        amountMinor: 100 + (i % 997),
        currency: 'HKD',
        result: base === 'paid' ? 'paid' : base === 'failed' ? 'failed' : 'cancelled',
        ...(base === 'pending' ? { pendingQueries: 1 + Math.floor(rand() * 3) } : {}),
        ...(base === 'slowcallback' ? { settleAfterMs: 2_000 + Math.floor(rand() * 6_000) } : {}),
        ...faultFields(f),
        ...(f === 'lostrefuse' ? { repeatRefusal: 'order status not allowed' } : {}),
      };
      const payOrderId = o.unified.setOrder(behaviour);
      orders.push({
        ...common,
        app,
        provider: 'unified',
        fields: {
          ...(byMch ? { mchOrderNo } : { payOrderId }),
          notifyUrl: o.notifyUrl,
          extParam: `chaos-${i}`,
        },
        orderRef: byMch ? `mch:${mchOrderNo}` : `pay:${payOrderId}`,
        sandboxRef: payOrderId,
        behaviour: `unified/${base}${f ? `+${f}` : ''}`,
      });
    }
  }
  return orders;
}
