import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import { createCancelflowClient } from '../../client';
import { cancellationWorkflowId } from '../../contract/ids';
import { verifyMd5Sign } from '../../providers/unified/sign';
import {
  asForm,
  fieldLabel,
  formBody,
  isStrictIpv4,
  jsonBody,
  namesIn,
  plain,
  postRaw,
  signEntries,
  type Answer,
  type Entries,
} from '../helpers/fuzz';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  GATEWAY,
  HOOKED_APP,
  PAYBY_APP,
  UNIFIED_APP,
  type World,
} from '../helpers/world';

/**
 * Issue 16 item 4: fast-check against the real API of a whole stack (Temporal, Postgres,
 * sandboxes). Generated bodies for the northbound API (types, encodings, content types, sizes,
 * duplicated keys, unicode, numbers as strings and the reverse, missing and extra fields, bad and
 * GOOD signatures) and for the callback endpoint. Every answer: never a 5xx, a JSON body with a
 * code of the README's table, a `msg` naming the field of a field error; a refused request leaves
 * no row and no workflow; a forged or malformed callback changes no cancellation.
 * Defects found are pinned at the end (KNOWN DEFECTS) and kept out of the generators until fixed.
 * FUZZ_SCALE=n multiplies the runs; FUZZ_REPORT=1 prints how the generated requests were answered.
 */

let world: World;

/** FUZZ_SCALE=10 for a deeper search (10× the runs and the time); 1 in `npm test`. */
const SCALE = Math.max(0.1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)) });
const budget = (ms: number) => Math.round(ms * Math.max(1, SCALE));

/** The README's table: answer code → HTTP status. 9999 only when Temporal/Postgres are down (never here). */
const README_CODES: Readonly<Record<number, number>> = {
  0: 200,
  1001: 400,
  1002: 400,
  1003: 403,
  1004: 401,
  1005: 400,
  1006: 404,
  1007: 429,
  1008: 413,
  9999: 503,
};

const CANCEL = '/api/pay/cancel';
const QUERY = '/api/cancel/query';
type Route = typeof CANCEL | typeof QUERY;

/** The seed's field tables (lengths in UTF-16 units, as Java counts). */
const COMMON_MAX = { mchNo: 30, appId: 24, reqTime: 13, version: 3, sign: 32, signType: 32 };
const MAX: Record<Route, Record<string, number>> = {
  [CANCEL]: {
    ...COMMON_MAX,
    payOrderId: 30,
    mchOrderNo: 30,
    clientIp: 32,
    notifyUrl: 128,
    channelExtra: 256,
    extParam: 512,
  },
  [QUERY]: { ...COMMON_MAX, cancelOrderId: 30 },
};
const REQUIRED: Record<Route, string[]> = {
  [CANCEL]: Object.keys(COMMON_MAX),
  [QUERY]: [...Object.keys(COMMON_MAX), 'cancelOrderId'],
};
const RULE_NAMES = new Set([...Object.keys(MAX[CANCEL]), ...Object.keys(MAX[QUERY])]);

type App = { mchNo: string; appId: string; key: string };
const APPS: App[] = [PAYBY_APP, UNIFIED_APP, HOOKED_APP];
const ACCOUNT_OF = new Map<App, string>([
  [PAYBY_APP, 'payby-test'],
  [UNIFIED_APP, 'unified-test'],
  [HOOKED_APP, 'payby-test'],
]);
const isConfiguredApp = (mchNo: string, appId: string) =>
  APPS.some((a) => a.mchNo === mchNo && a.appId === appId);

/** Makes every order number of this run unique (and unlike any other suite's). */
const RUN = randomBytes(3).toString('hex');
let serial = 0;
const uniqueRef = () => `FZ${RUN}${(++serial).toString(36)}`;

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;charset=latin1',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'Application/X-WWW-Form-Urlencoded',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/jsonx',
  'application/*',
  '*/*',
  'json',
  ';',
  'application/x-www-form-urlencoded, application/json',
];

// ---------------------------------------------------------------------------------------------
// Generators

/**
 * One character: mostly ASCII, sometimes anything (astral, controls, lone surrogates) and, unless
 * `nul` is false, NUL (see KNOWN DEFECTS below: NUL reaching Postgres is a 5xx today).
 */
const charOf = (nul: boolean) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
    {
      weight: 2,
      arbitrary: fc
        .string({ unit: 'binary', minLength: 1, maxLength: 1 })
        .filter((c) => nul || c !== '\u0000'),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        ...(nul ? ['\u0000'] : []),
        '\u0001',
        '\ud800',
        '\udfff',
        '😀',
        'é',
        '€',
        '中',
        '\u202e',
        '+',
        '&',
        '=',
        '%',
        '"',
        '\\',
        ' ',
        '\n',
      ),
    },
  );
/** Text of min..max UTF-16 units (a slice can leave a lone surrogate: fine, that is fuzz too). */
const text = (min: number, max: number, nul = true) =>
  fc
    .array(charOf(nul), { minLength: min, maxLength: max })
    .map((cs) => cs.join('').slice(0, max))
    .filter((s) => s.length >= min);
/** Longer than `max` UTF-16 units. */
const tooLong = (max: number) =>
  fc.tuple(text(1, 12), fc.integer({ min: 1, max: 40 })).map(([s, extra]) => {
    const n = max + extra;
    return s.repeat(Math.ceil(n / s.length)).slice(0, n);
  });
const hex32 = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 32, maxLength: 32 });
const notNull = fc.jsonValue({ maxDepth: 2 }).filter((v) => v !== null);
/** A JSON value that is not a string (or null): a type error for a string field. */
const nonString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(notNull, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), notNull, { maxKeys: 3 }),
);
/** Not a seed `long` a JSON number can be: booleans, structures, fractions, unsafe integers. */
const nonLong = fc.oneof(
  fc.boolean(),
  fc.array(notNull, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), notNull, { maxKeys: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.integer({ min: 1, max: 1000 }).map((n) => Number.MAX_SAFE_INTEGER + n * 2),
);
/** Extra (unknown) field names: never a rule's name or `sign`; case variants of them are fine. */
const extraName = fc
  .oneof(text(0, 20), fc.constantFrom('MchNo', 'APPID', 'Sign', '__proto__', 'constructor', 'key', 'a b', ''))
  .filter((n) => !RULE_NAMES.has(n) && n !== 'sign');
const extras = (json: boolean) =>
  fc.uniqueArray(
    fc.tuple(extraName, json ? fc.oneof(text(0, 30), fc.jsonValue({ maxDepth: 2 })) : text(0, 30)),
    {
      maxLength: 3,
      selector: ([n]) => n,
    },
  );

/** The optional fields of a valid cancel request (all valid). */
const cancelOptional = fc.record(
  {
    clientIp: fc.ipV4(),
    // Valid: no NUL (a NUL is refused with 1002, see the NUL cases below).
    extParam: text(1, 60, false),
    channelExtra: fc
      .dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 })
      .map((o) => JSON.stringify(o))
      .filter((s) => s.length <= 256),
    notifyUrl: fc.constantFrom('https://merchant.example/notify', 'http://127.0.0.1:9/n?x=1'),
    emptyOptional: fc.constantFrom('clientIp', 'notifyUrl', 'channelExtra', 'extParam'),
  },
  { requiredKeys: [] },
);

type Mutation =
  | { kind: 'none' }
  | { kind: 'tooLong'; field: string; value: string }
  | { kind: 'missing'; field: string }
  | { kind: 'empty'; field: string; asNull: boolean }
  | { kind: 'wrongType'; field: string; value: unknown }
  | { kind: 'badReqTime'; value: string }
  | { kind: 'staleReqTime'; offsetMs: number; seconds: boolean }
  | { kind: 'badVersion'; value: string }
  | { kind: 'badSignType'; value: string }
  | { kind: 'duplicate'; index: number; escaped: boolean; sameValue: boolean }
  | { kind: 'unknownApp'; mchNo: string; appId: string; key: string }
  | { kind: 'wrongKey'; key: string }
  | { kind: 'badSign'; value: string; flip: boolean }
  | { kind: 'tamper'; how: 'change' | 'add' | 'remove'; name: string; value: string }
  | { kind: 'badClientIp'; value: string }
  | { kind: 'badNotifyUrl'; value: string }
  | { kind: 'badChannelExtra'; value: string }
  | { kind: 'noRef'; asEmpty: boolean };

const isJsonStructureText = (v: string) => {
  try {
    const parsed: unknown = JSON.parse(v);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
};

function mutations(route: Route): fc.Arbitrary<Mutation> {
  const fields = Object.keys(MAX[route]);
  const stringFields = fields.filter((f) => f !== 'reqTime');
  const common: Array<fc.Arbitrary<Mutation>> = [
    fc
      .constantFrom(...fields)
      .chain((field) =>
        tooLong(MAX[route][field]!).map((value) => ({ kind: 'tooLong' as const, field, value })),
      ),
    fc.constantFrom(...REQUIRED[route]).map((field) => ({ kind: 'missing' as const, field })),
    fc.record({
      kind: fc.constant('empty' as const),
      field: fc.constantFrom(...REQUIRED[route]),
      asNull: fc.boolean(),
    }),
    fc.oneof(
      fc.record({
        kind: fc.constant('wrongType' as const),
        field: fc.constantFrom(...stringFields),
        value: nonString,
      }),
      fc.record({ kind: fc.constant('wrongType' as const), field: fc.constant('reqTime'), value: nonLong }),
    ),
    fc
      .record({
        kind: fc.constant('badReqTime' as const),
        value: fc.oneof(
          text(0, 16),
          fc
            .integer({ min: 1, max: 16 })
            .filter((n) => n !== 10 && n !== 13)
            .map((n) => '7'.repeat(n)),
          fc.constantFrom(
            '１６２２０１６５７２１９０',
            '1.622016572e12',
            ' 1622016572190',
            '1622016572190 ',
            '-622016572190',
            '0x1622016572',
          ),
        ),
      })
      .filter((m) => !/^\d{13}$|^\d{10}$/.test(m.value)),
    fc.record({
      kind: fc.constant('staleReqTime' as const),
      offsetMs: fc.oneof(
        fc.integer({ min: 605_000, max: 30 * 86_400_000 }),
        fc.integer({ min: -30 * 86_400_000, max: -605_000 }),
      ),
      seconds: fc.boolean(),
    }),
    fc
      .record({
        kind: fc.constant('badVersion' as const),
        value: fc.oneof(text(1, 3), fc.constantFrom('1', '1.1', '2.0', '1,0', '１.0')),
      })
      .filter((m) => m.value !== '1.0'),
    fc
      .record({
        kind: fc.constant('badSignType' as const),
        value: fc.oneof(text(1, 32), fc.constantFrom('md5', 'Md5', 'MD5 ', 'SHA256', 'RSA', 'HMAC-MD5')),
      })
      .filter((m) => m.value !== 'MD5'),
    fc.record({
      kind: fc.constant('duplicate' as const),
      index: fc.nat(),
      escaped: fc.boolean(),
      sameValue: fc.boolean(),
    }),
    fc
      .record({
        kind: fc.constant('unknownApp' as const),
        mchNo: fc.oneof(text(1, 30), fc.constantFrom(...APPS.map((a) => a.mchNo))),
        appId: fc.oneof(text(1, 24), fc.constantFrom(...APPS.map((a) => a.appId))),
        key: fc.oneof(text(0, 20), fc.constantFrom(...APPS.map((a) => a.key))),
      })
      .filter((m) => !isConfiguredApp(m.mchNo, m.appId)),
    fc.record({
      kind: fc.constant('wrongKey' as const),
      key: fc.oneof(text(0, 20), fc.constantFrom(GATEWAY.key, '')),
    }),
    fc.record({
      kind: fc.constant('badSign' as const),
      value: fc.oneof(hex32, text(1, 32)),
      flip: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('tamper' as const),
      how: fc.constantFrom('change' as const, 'add' as const, 'remove' as const),
      name: extraName,
      value: text(1, 10),
    }),
  ];
  if (route === QUERY) return fc.oneof(fc.constant({ kind: 'none' as const }), ...common);
  return fc.oneof(
    ...common,
    fc
      .record({
        kind: fc.constant('badClientIp' as const),
        value: fc.oneof(
          fc.constantFrom(
            '256.1.1.1',
            '01.2.3.4',
            '1.2.3',
            '1.2.3.4.5',
            '::1',
            '1.2.3.4 ',
            ' 1.2.3.4',
            'localhost',
            '1.2.3.04',
            '١.٢.٣.٤',
            '1.2.3.4\n',
          ),
          text(1, 32),
        ),
      })
      .filter((m) => !isStrictIpv4(m.value)),
    fc.record({
      kind: fc.constant('badNotifyUrl' as const),
      value: fc.oneof(
        fc.constantFrom(
          'ftp://a.b/n',
          'not a url',
          'javascript:alert(1)',
          'file:///etc/passwd',
          'http://169.254.169.254/latest/meta-data',
          'http://[fe80::1]/n',
          'http://0.0.0.0/n',
          'http://metadata.google.internal/x',
          'http://[::ffff:169.254.169.254]/',
          'gopher://x/',
          '//merchant.example/n',
        ),
        text(1, 128).filter((s) => !s.includes(':')),
      ),
    }),
    fc
      .record({
        kind: fc.constant('badChannelExtra' as const),
        value: fc.oneof(
          fc.constantFrom('null', '1', '"x"', 'true', '{', '[1,', 'abc', '{"a":1}x', "{'a':1}"),
          text(1, 256),
        ),
      })
      .filter((m) => !isJsonStructureText(m.value)),
    fc.record({ kind: fc.constant('noRef' as const), asEmpty: fc.boolean() }),
  );
}

interface Variant {
  app: App;
  json: boolean;
  /** JSON only: reqTime as a JSON number (a seed long), not a digit string. */
  reqTimeNumber: boolean;
  /** reqTime in seconds (10 digits), as the seed's own examples send. */
  reqTimeSeconds: boolean;
  lowerSign: boolean;
  reverse: boolean;
  optional: {
    clientIp?: string;
    extParam?: string;
    channelExtra?: string;
    notifyUrl?: string;
    emptyOptional?: string;
  };
  /** Both references (cancel), or payOrderId instead of mchOrderNo. */
  refs: 'mch' | 'pay' | 'both';
  extras: Entries;
  mutation: Mutation;
}

const variant = (
  route: Route,
  mutation: fc.Arbitrary<Mutation>,
  ref: 'any' | 'mch' = 'any',
): fc.Arbitrary<Variant> =>
  fc.boolean().chain((json) =>
    fc.record({
      app: fc.constantFrom(...APPS),
      json: fc.constant(json),
      reqTimeNumber: json ? fc.boolean() : fc.constant(false),
      reqTimeSeconds: fc.boolean(),
      lowerSign: fc.boolean(),
      reverse: fc.boolean(),
      optional: route === CANCEL ? cancelOptional : fc.constant({}),
      refs:
        ref === 'mch'
          ? fc.constant('mch' as const)
          : fc.constantFrom('mch' as const, 'pay' as const, 'both' as const),
      extras: extras(json),
      mutation,
    }),
  );

interface Built {
  route: Route;
  raw: string;
  contentType: string;
  /** What must be answered: the code and, for a field error, the field named first in `msg`. */
  expect: { code: number; field?: string; reason?: string; msg?: RegExp };
  /** Workflow ids this request would have started (to check none was). */
  workflowIds: string[];
  app: App;
}

/** A request signed with the right key, then changed by one mutation whose refusal is known. */
function build(route: Route, v: Variant, suffix = '', now = Date.now()): Built {
  const m = v.mutation;
  let json = v.json;
  if (m.kind === 'wrongType' || (m.kind === 'empty' && m.asNull)) json = true;
  const ref = uniqueRef();
  const reqTimeText = v.reqTimeSeconds ? String(Math.floor(now / 1000)) : String(now);
  let entries: Entries = [
    ['mchNo', v.app.mchNo],
    ['appId', v.app.appId],
  ];
  if (route === CANCEL) {
    if (v.refs !== 'pay') entries.push(['mchOrderNo', `${ref}${suffix}`.slice(0, 30)]);
    if (v.refs !== 'mch') entries.push(['payOrderId', `P${ref}${suffix}`.slice(0, 30)]);
    const o = v.optional;
    for (const name of ['clientIp', 'extParam', 'channelExtra', 'notifyUrl'] as const)
      if (o[name] !== undefined) entries.push([name, o[name]]);
    if (o.emptyOptional && o[o.emptyOptional as 'clientIp'] === undefined)
      entries.push([o.emptyOptional, json ? null : '']);
  } else {
    entries.push(['cancelOrderId', `C${ref}`]);
  }
  entries.push(
    ['reqTime', v.reqTimeNumber && json ? Number(reqTimeText) : reqTimeText],
    ['version', '1.0'],
    ['signType', 'MD5'],
    ...v.extras,
  );
  if (v.reverse) entries.reverse();
  const set = (name: string, value: unknown) => {
    const i = entries.findIndex(([n]) => n === name);
    if (i >= 0) entries[i] = [name, value];
    else entries.push([name, value]);
  };
  const drop = (name: string) => {
    entries = entries.filter(([n]) => n !== name);
  };

  let key = v.app.key;
  let sign = true;
  let expect: Built['expect'] = route === QUERY ? { code: 1006, msg: /^order not found: / } : { code: 0 };
  const fieldError = (field: string, reason?: string) => {
    expect = { code: 1002, field, ...(reason ? { reason } : {}) };
  };

  // Before signing.
  switch (m.kind) {
    case 'tooLong':
      if (m.field !== 'sign') set(m.field, m.value);
      fieldError(m.field);
      break;
    case 'missing':
      if (m.field === 'sign') sign = false;
      else drop(m.field);
      fieldError(m.field, 'is required');
      break;
    case 'empty':
      if (m.field !== 'sign') set(m.field, m.asNull ? null : '');
      fieldError(m.field, 'is required');
      break;
    case 'wrongType':
      if (m.field !== 'sign') set(m.field, m.value);
      fieldError(m.field, m.field === 'reqTime' ? 'must be a number or digit string' : 'must be a string');
      break;
    case 'badReqTime':
      set('reqTime', m.value);
      fieldError('reqTime');
      break;
    case 'staleReqTime': {
      const at = now + m.offsetMs;
      set('reqTime', m.seconds ? String(Math.floor(at / 1000)) : String(at));
      expect = { code: 1005, msg: /^reqTime is \d+ s away from our clock \(allowed ±600 s\)$/ };
      break;
    }
    case 'badVersion':
      set('version', m.value);
      fieldError('version');
      break;
    case 'badSignType':
      set('signType', m.value);
      fieldError('signType');
      break;
    case 'unknownApp':
      set('mchNo', m.mchNo);
      set('appId', m.appId);
      key = m.key;
      expect = { code: 1003, msg: /^unknown app: / };
      break;
    case 'wrongKey':
      key = m.key === v.app.key ? `${m.key}x` : m.key;
      expect = { code: 1004, msg: /^signature verification failed$/ };
      break;
    case 'badClientIp':
      set('clientIp', m.value);
      fieldError('clientIp');
      break;
    case 'badNotifyUrl':
      set('notifyUrl', m.value);
      fieldError('notifyUrl');
      break;
    case 'badChannelExtra':
      set('channelExtra', m.value);
      fieldError('channelExtra');
      break;
    case 'noRef':
      if (m.asEmpty) {
        set('mchOrderNo', '');
        set('payOrderId', '');
      } else {
        drop('mchOrderNo');
        drop('payOrderId');
      }
      fieldError('payOrderId', 'payOrderId or mchOrderNo is required');
      break;
    default:
      break;
  }

  if (!json) entries = asForm(entries);
  if (sign) {
    const s = signEntries(entries, key);
    entries.push(['sign', v.lowerSign ? s.toLowerCase() : s]);
  }

  // After signing.
  const escape = new Set<number>();
  switch (m.kind) {
    case 'tooLong':
    case 'empty':
    case 'wrongType':
      if (m.field === 'sign')
        set('sign', m.kind === 'tooLong' ? m.value : m.kind === 'empty' ? (m.asNull ? null : '') : m.value);
      break;
    case 'badSign': {
      const real = String(entries.find(([n]) => n === 'sign')![1]);
      let value = m.value;
      if (m.flip) value = real.slice(0, -1) + (real.endsWith('0') ? '1' : '0');
      if (value.toUpperCase() === real.toUpperCase())
        value = `${value.slice(0, -1)}${value.endsWith('0') ? '1' : '0'}`;
      set('sign', value);
      expect = { code: 1004, msg: /^signature verification failed$/ };
      break;
    }
    case 'tamper': {
      expect = { code: 1004, msg: /^signature verification failed$/ };
      const removable = entries.filter(
        ([n, value]) => !RULE_NAMES.has(n) && n !== 'sign' && value !== null && plain(value) !== '',
      );
      if (m.how === 'remove' && removable.length > 0) {
        const name = removable[m.value.length % removable.length]![0];
        drop(name);
      } else if (m.how === 'change') {
        const field = route === QUERY ? 'cancelOrderId' : v.refs === 'pay' ? 'payOrderId' : 'mchOrderNo';
        const i = entries.findIndex(([n]) => n === field);
        if (i >= 0) entries[i] = [field, `${String(entries[i]![1])}x`.slice(-30)];
        else set('reqTime', reqTimeText === String(now) ? String(now - 1) : String(Number(reqTimeText) - 1));
      } else {
        let name = m.name;
        while (entries.some(([n]) => n === name)) name = `${name}~`;
        entries.push([name, m.value]);
      }
      break;
    }
    case 'duplicate': {
      const i = m.index % entries.length;
      const [name, value] = entries[i]!;
      entries.splice(i + 1, 0, [name, m.sameValue ? value : 'dup']);
      if (m.escaped && json) escape.add(i + 1);
      fieldError(name, 'is given more than once');
      break;
    }
    default:
      break;
  }

  const raw = json ? jsonBody(entries, escape) : formBody(entries);
  // What the body says (for the workflow a mistaken acceptance would have started).
  const sent = Object.fromEntries(entries);
  const workflowIds: string[] = [];
  const app = APPS.find((a) => a.mchNo === sent.mchNo && a.appId === sent.appId);
  if (route === CANCEL && app)
    for (const [name, tag] of [
      ['payOrderId', 'pay'],
      ['mchOrderNo', 'mch'],
    ] as const)
      if (typeof sent[name] === 'string' && sent[name] !== '')
        workflowIds.push(cancellationWorkflowId(ACCOUNT_OF.get(app)!, app, `${tag}:${String(sent[name])}`));
  return {
    route,
    raw,
    contentType: json ? 'application/json' : 'application/x-www-form-urlencoded',
    expect,
    workflowIds,
    app: v.app,
  };
}

// ---------------------------------------------------------------------------------------------
// Checks

interface Reply {
  code: number;
  msg: string;
  data?: Record<string, unknown>;
  sign?: string;
}

/** The invariants of every northbound answer. `names`: the names the body carries. */
function checkNorthbound(ans: Answer, names: readonly string[]): Reply {
  expect(ans.status).toBeLessThan(500);
  expect(ans.contentType).toMatch(/^application\/json/);
  expect(ans.json).toEqual(expect.any(Object));
  const reply = ans.json as Reply;
  expect(Object.keys(reply).every((k) => ['code', 'msg', 'data', 'sign'].includes(k))).toBe(true);
  expect(Object.keys(README_CODES).map(Number)).toContain(reply.code);
  expect(reply.code).not.toBe(9999);
  expect(ans.status).toBe(README_CODES[reply.code]);
  expect(typeof reply.msg).toBe('string');
  expect(reply.msg.length).toBeGreaterThan(0);
  if (reply.code !== 0) {
    expect(reply.data).toBeUndefined();
    expect(reply.sign).toBeUndefined();
  }
  if (reply.code === 1002) {
    // `field: why`, the field one the body carries or one the seed requires.
    const candidates = [...RULE_NAMES, ...names].map(fieldLabel);
    expect(candidates.some((f) => reply.msg.startsWith(`${f}: `))).toBe(true);
  }
  return reply;
}

const countRows = async () => Number((await world.database.db('cancellations').count({ n: '*' }).first())!.n);

async function assertNoWorkflow(ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const found = await world.temporal.client.workflow
      .getHandle(id)
      .describe()
      .then(
        () => true,
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        },
      );
    if (found) throw new Error(`a refused request started workflow ${id}`);
  }
}

/** Every workflow on this suite's task queue (visibility). */
async function workflowsOnQueue(): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const w of world.temporal.client.workflow.list({
    query: `TaskQueue = '${world.temporal.taskQueue}'`,
  }))
    ids.add(w.workflowId);
  return ids;
}

/** Cancellations answered code 0 by the API: the only rows and workflows the fuzzers may leave. */
const accepted = new Set<string>();
let rowsAtStart = 0;
let workflowsAtStart = new Set<string>();
const tally: Record<string, Record<string, number>> = {};
const count = (property: string, outcome: string | number) => {
  const t = (tally[property] ??= {});
  t[String(outcome)] = (t[String(outcome)] ?? 0) + 1;
};

/** Posts to the northbound API, checks the invariants and that a refusal left no row. */
async function northbound(route: Route, raw: string | Uint8Array, contentType: string | undefined) {
  const before = await countRows();
  const ans = await postRaw(`${world.apiUrl}${route}`, raw, contentType);
  const names = typeof raw === 'string' ? namesIn(raw, contentType) : [];
  const reply = checkNorthbound(ans, names);
  const after = await countRows();
  if (reply.code === 0) {
    if (route === CANCEL) accepted.add(String(reply.data!.cancelOrderId));
    expect(after - before).toBeLessThanOrEqual(1);
  } else expect(after).toBe(before);
  return reply;
}

// ---------------------------------------------------------------------------------------------
// The callback endpoint's seeded cancellation

let seeded: { cancelOrderId: string; providerCancelId: string; payOrderId: string; workflowId: string };

const seededRow = () =>
  world.database
    .db('cancellations')
    .where({ cancel_order_id: seeded.cancelOrderId })
    .first('status', 'state', 'provider_cancel_id');

async function signalsOfSeeded(): Promise<number> {
  const { events } = await world.temporal.client.workflow.getHandle(seeded.workflowId).fetchHistory();
  return events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
}

const lastCallbackId = async () =>
  Number((await world.database.db('provider_callbacks').max({ id: 'id' }).first())?.id ?? 0);

beforeAll(async () => {
  world = await createWorld();
  rowsAtStart = await countRows();
  workflowsAtStart = await workflowsOnQueue();
  // A cancellation the gateway keeps in progress and never notifies; only a callback could settle it.
  const payOrderId = world.unified.setOrder({
    pendingQueries: 1_000_000,
    silent: true,
    amountMinor: 58,
    currency: 'HKD',
  });
  const cf = createCancelflowClient({
    client: world.temporal.client,
    config: world.config,
    timings: { ...FAST_TIMINGS, pollInitialMs: 600_000, pollMaxMs: 600_000, deadlineMs: 3_600_000 },
  });
  const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId });
  const row = await eventually(async () => {
    const r = await world.database
      .db('cancellations')
      .where({ cancel_order_id: started.cancelOrderId })
      .first();
    return r?.status === 'PENDING' && r.provider_cancel_id ? r : undefined;
  });
  seeded = {
    cancelOrderId: started.cancelOrderId,
    providerCancelId: row.provider_cancel_id as string,
    payOrderId,
    workflowId: started.workflowId,
  };
  rowsAtStart += 1;
  accepted.add(started.cancelOrderId);
}, 60_000);

afterAll(async () => {
  if (!world) return;
  // Nothing of this suite goes on running (the seeded cancellation, any mistaken start).
  for await (const w of world.temporal.client.workflow.list({
    query: `TaskQueue = '${world.temporal.taskQueue}' AND ExecutionStatus = 'Running'`,
  }))
    await world.temporal.client.workflow
      .getHandle(w.workflowId)
      .terminate('fuzz suite done')
      .catch(() => undefined);
  // FUZZ_REPORT=1: how the generated requests were answered, per property and kind.
  if (process.env.FUZZ_REPORT) console.log(`fuzz outcomes: ${JSON.stringify(tally, null, 1)}`);
  await world.close();
});

// ---------------------------------------------------------------------------------------------
// Northbound API

/** Arbitrary bodies: text, bytes, JSON of any shape, forms of any names. */
const garbageBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.constant(''),
  text(0, 200),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
  fc
    .dictionary(fc.oneof(fc.constantFrom(...RULE_NAMES), text(0, 12)), fc.jsonValue({ maxDepth: 2 }), {
      maxKeys: 12,
    })
    .map((o) => JSON.stringify(o)),
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...RULE_NAMES), text(0, 12)), text(0, 40)), { maxLength: 12 })
    .map((pairs) => formBody(pairs)),
  fc
    .array(fc.constantFrom('a=b', '&', '=', '%', '%zz', '%00', '+', 'mchNo', '=x', '{', '"', '}'), {
      maxLength: 20,
    })
    .map((p) => p.join('')),
);
/** Half the time a type the API reads (JSON or form), else any type of the list, or none. */
const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded; charset=UTF-8',
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

describe('northbound API under generated requests', () => {
  test(
    'arbitrary bodies and content types: a seed-000 refusal, never a 5xx, never a row',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Route>(CANCEL, QUERY),
          garbageBody,
          contentType,
          async (route, body, type) => {
            const reply = await northbound(route, body, type);
            count('garbage', reply.code);
            expect([1001, 1002, 1003, 1004, 1007]).toContain(reply.code);
          },
        ),
        runs(300),
      );
    },
    budget(120_000),
  );

  test(
    'parameter maps with absent, forged or foreign signatures: refused at or before the signature',
    async () => {
      // A plausible request (every field present, known or unknown app), then up to 3 fields
      // replaced by anything or dropped, extra fields, and a signature that cannot verify.
      const value = fc.oneof(
        text(0, 40),
        fc.jsonValue({ maxDepth: 2 }),
        fc.constantFrom(Date.now(), String(Date.now()), '1.0', 'MD5', PAYBY_APP.mchNo, UNIFIED_APP.appId),
      );
      const request = fc.constantFrom<Route>(CANCEL, QUERY).chain((route) =>
        fc.record({
          route: fc.constant(route),
          app: fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...APPS) },
            { weight: 1, arbitrary: fc.record({ mchNo: text(1, 30), appId: text(1, 24), key: text(0, 10) }) },
          ),
          overrides: fc.array(
            fc.tuple(
              fc.constantFrom(...Object.keys(MAX[route]).filter((n) => n !== 'sign')),
              fc.option(value, { nil: undefined }),
            ),
            { maxLength: 3 },
          ),
          json: fc.boolean(),
          extras: extras(true),
          sign: fc.oneof(
            fc.constant({ mode: 'absent' as const }),
            fc.record({
              mode: fc.constant('value' as const),
              value: fc.oneof(hex32, text(0, 40), nonString),
            }),
            fc.record({
              mode: fc.constant('key' as const),
              key: fc.oneof(text(0, 20), fc.constantFrom(GATEWAY.key, ...APPS.map((a) => a.key))),
            }),
          ),
          // Mostly the type of the encoding used; sometimes another (or none).
          type: fc.oneof(
            { weight: 5, arbitrary: fc.constant('right' as const) },
            { weight: 1, arbitrary: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }) },
          ),
        }),
      );
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          let body: Entries = [
            ['mchNo', r.app.mchNo],
            ['appId', r.app.appId],
            r.route === CANCEL ? ['mchOrderNo', uniqueRef()] : ['cancelOrderId', `C${uniqueRef()}`],
            ['reqTime', String(Date.now())],
            ['version', '1.0'],
            ['signType', 'MD5'],
          ];
          for (const [name, v] of r.overrides) {
            body = body.filter(([n]) => n !== name);
            if (v !== undefined) body.push([name, v]);
          }
          body.push(...r.extras);
          if (r.sign.mode === 'value') body.push(['sign', r.sign.value]);
          // Never the app's own key: this property is about signatures that cannot verify.
          if (r.sign.mode === 'key')
            body.push(['sign', signEntries(body, r.sign.key === r.app.key ? `${r.sign.key}x` : r.sign.key)]);
          const ct =
            r.type === 'right' ? (r.json ? 'application/json' : 'application/x-www-form-urlencoded') : r.type;
          const reply = await northbound(r.route, r.json ? jsonBody(body) : formBody(body), ct);
          count('unsigned', reply.code);
          expect([1001, 1002, 1003, 1004, 1007]).toContain(reply.code);
        }),
        runs(300),
      );
    },
    budget(120_000),
  );

  test(
    'good signatures with one defect each: exactly the refusal the seed and README give, no row, no workflow',
    async () => {
      const arb = fc
        .constantFrom<Route>(CANCEL, QUERY)
        .chain((route) => variant(route, mutations(route)).map((v) => ({ route, v })));
      await fc.assert(
        fc.asyncProperty(arb, async ({ route, v }) => {
          const b = build(route, v);
          expect(b.expect.code).not.toBe(0);
          const reply = await northbound(route, b.raw, b.contentType);
          count(`signed/${v.mutation.kind}`, reply.code);
          if (reply.code === 1007) return; // throttled: a refusal too
          expect({ code: reply.code, msg: reply.msg }).toEqual({
            code: b.expect.code,
            msg: expect.any(String),
          });
          if (b.expect.field !== undefined) {
            expect(reply.msg.startsWith(`${fieldLabel(b.expect.field)}: `)).toBe(true);
            if (b.expect.reason) expect(reply.msg).toBe(`${fieldLabel(b.expect.field)}: ${b.expect.reason}`);
          }
          if (b.expect.msg) expect(reply.msg).toMatch(b.expect.msg);
          await assertNoWorkflow(b.workflowIds);
        }),
        runs(400),
      );
    },
    budget(180_000),
  );

  test(
    'well-formed, verified cancels of any text, encoding and form of reqTime/sign: accepted once, signed, recorded',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          variant(CANCEL, fc.constant({ kind: 'none' as const })),
          text(1, 20, false),
          async (v, suffix) => {
            // Any text as the merchant's order number (30 units at most), unique to this run.
            const b = build(CANCEL, v, suffix);
            expect(b.expect.code).toBe(0);
            const reply = await northbound(CANCEL, b.raw, b.contentType);
            count('accepted', reply.code);
            if (reply.code === 1007) return;
            expect(reply).toMatchObject({ code: 0, msg: 'SUCCESS' });
            expect(Object.keys(reply.data!).sort()).toEqual([
              'cancelOrderId',
              'channelOrderNo',
              'errCode',
              'errMsg',
              'state',
            ]);
            expect(verifyMd5Sign(reply.data!, reply.sign, v.app.key)).toBe(true);
            expect([0, 1, 2, 3, 4]).toContain(reply.data!.state);
            const row = await world.database
              .db('cancellations')
              .where({ cancel_order_id: reply.data!.cancelOrderId as string })
              .first('mch_no', 'app_id', 'workflow_id');
            expect(row).toMatchObject({ mch_no: v.app.mchNo, app_id: v.app.appId });
            if (v.reverse) {
              // Half of them again, the same bytes: the same cancellation, no second row.
              const rows = await countRows();
              const again = await northbound(CANCEL, b.raw, b.contentType);
              if (again.code === 1007) return;
              expect(again).toMatchObject({ code: 0, data: { cancelOrderId: reply.data!.cancelOrderId } });
              expect(await countRows()).toBe(rows);
            }
          },
        ),
        runs(40),
      );
    },
    budget(180_000),
  );

  test(
    'bodies near and over api.bodyLimitBytes: 1008 exactly when over, the usual answer otherwise',
    async () => {
      const limit = world.config.api.bodyLimitBytes;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Route>(CANCEL, QUERY),
          fc.integer({ min: -48, max: 48 }),
          fc.boolean(),
          fc.array(fc.constantFrom('é', '€', '😀', '中', '\u0000', '+', '&'), { maxLength: 12 }),
          fc.constantFrom(...APPS),
          async (route, delta, json, prefix, app) => {
            const base: Entries = [
              ['mchNo', app.mchNo],
              ['appId', app.appId],
              route === CANCEL ? ['mchOrderNo', uniqueRef()] : ['cancelOrderId', `C${uniqueRef()}`],
              // A cancel is refused on a business rule, after everything else passed.
              ...(route === CANCEL ? [['clientIp', '999.1.1.1'] as [string, unknown]] : []),
              ['reqTime', String(Date.now())],
              ['version', '1.0'],
              ['signType', 'MD5'],
            ];
            const target = limit + delta;
            const bodyWith = (pad: string) => {
              const entries: Entries = [...base, ['pad', pad]];
              entries.push(['sign', signEntries(entries, app.key)]);
              return json ? jsonBody(entries) : formBody(entries);
            };
            const head = prefix.join('');
            const size = Buffer.byteLength(bodyWith(head));
            const raw = bodyWith(head + 'a'.repeat(Math.max(0, target - size)));
            const bytes = Buffer.byteLength(raw);
            const reply = await northbound(
              route,
              raw,
              json ? 'application/json' : 'application/x-www-form-urlencoded',
            );
            count('size', `${bytes > limit ? 'over' : 'within'}:${reply.code}`);
            if (bytes > limit) expect(reply.code).toBe(1008);
            else if (route === QUERY) expect(reply.code).toBe(1006);
            else expect(reply.msg).toMatch(/^clientIp: /);
          },
        ),
        runs(100),
      );
    },
    budget(120_000),
  );

  test('afterwards: every row and every workflow of the queue belongs to an accepted request', async () => {
    // Visibility is eventually consistent: give a mistaken start time to show up.
    await new Promise((r) => setTimeout(r, 2_000));
    const rows = await world.database.db('cancellations').select('cancel_order_id', 'workflow_id');
    const unexplained = rows.filter((r) => !accepted.has(r.cancel_order_id as string));
    expect(unexplained).toEqual([]);
    expect(rows.length).toBe(accepted.size);
    const known = new Set(
      rows.flatMap((r) => [r.workflow_id as string, `notify/${r.cancel_order_id as string}`]),
    );
    const started = [...(await workflowsOnQueue())].filter((id) => !workflowsAtStart.has(id));
    expect(started.filter((id) => !known.has(id))).toEqual([]);
    expect(rowsAtStart).toBe(1);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Callback endpoint

/** The stored rows of callbacks after `afterId`. */
const callbacksAfter = (afterId: number) =>
  world.database.db('provider_callbacks').where('id', '>', afterId).orderBy('id').select<
    Array<{
      id: number;
      verdict: string;
      bytes: number;
      chars: number;
      signalled: boolean;
      account_id: string;
    }>
  >('id', 'verdict', 'signalled', 'account_id', world.database.db.raw('octet_length(raw_body)::int as bytes, char_length(raw_body)::int as chars'));

async function callback(accountSegment: string, raw: string | Uint8Array, type: string | undefined) {
  const from = await lastCallbackId();
  const ans = await postRaw(`${world.apiUrl}/callbacks/unified/${accountSegment}`, raw, type);
  expect(ans.status).toBeLessThan(500);
  expect(ans.text.trim().toLowerCase()).not.toBe('success');
  const stored = await callbacksAfter(from);
  expect(stored.length).toBeLessThanOrEqual(1);
  for (const s of stored) {
    expect(s.signalled).toBe(false);
    expect(s.verdict).not.toBe('valid');
    // 1 KiB: in characters here; in bytes it is known defect D3 below.
    if (s.verdict === 'unknown-account') expect(s.chars).toBeLessThanOrEqual(1024);
    // Unverified bodies for an account we have: 4 KiB.
    else expect(s.bytes).toBeLessThanOrEqual(4096);
  }
  expect(await seededRow()).toMatchObject({ status: 'PENDING', state: 1 });
  return { ans, verdict: stored[0]?.verdict };
}

describe('callback endpoint under generated requests', () => {
  let signalsBefore = 0;
  let workflowsBefore = new Set<string>();
  beforeAll(async () => {
    signalsBefore = await signalsOfSeeded();
    workflowsBefore = await workflowsOnQueue();
  });

  test(
    'arbitrary accounts, bodies and content types: never a 5xx, never believed, at most 1 KiB kept for unknown accounts',
    async () => {
      const account = fc.oneof(
        { weight: 4, arbitrary: fc.constant('unified-test') },
        { weight: 1, arbitrary: fc.constant('payby-test') },
        {
          weight: 2,
          arbitrary: text(1, 60).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '%ff',
            '%E2%82',
            'a%2Fb',
            '%20',
            'UNIFIED-TEST',
            'x'.repeat(300),
            '%F0%9F%98%80'.repeat(30),
          ),
        },
      );
      const big = fc
        .tuple(fc.constantFrom('a', 'é', '€', '😀', '中'), fc.integer({ min: 300, max: 20_000 }))
        .map(([c, n]) => c.repeat(n));
      await fc.assert(
        fc.asyncProperty(
          account,
          fc.oneof({ weight: 4, arbitrary: garbageBody }, { weight: 1, arbitrary: big }),
          contentType,
          async (acc, body, type) => {
            const { ans, verdict } = await callback(acc, body, type);
            count('callback-garbage', `${ans.status}:${verdict ?? '-'}`);
          },
        ),
        runs(300),
      );
    },
    budget(120_000),
  );

  test(
    'forged, tampered, malformed or misaddressed notifications about a PENDING cancellation leave it PENDING',
    async () => {
      type Forgery =
        | { kind: 'unsigned' }
        | { kind: 'garbageSign'; value: string }
        | { kind: 'wrongKey'; key: string }
        | { kind: 'tamper'; field: 'state' | 'cancelOrderId' | 'payAmount' | 'add' | 'remove' }
        | { kind: 'appendDuplicate'; value: string }
        | { kind: 'malformed'; field: string; value: string | undefined }
        | { kind: 'misaddressed' }
        | { kind: 'unmatched' }
        | { kind: 'wrongAccount'; account: string }
        | { kind: 'wrongContentType'; index: number };
      const forgery: fc.Arbitrary<Forgery> = fc.oneof(
        fc.constant({ kind: 'unsigned' as const }),
        fc.record({ kind: fc.constant('garbageSign' as const), value: fc.oneof(hex32, text(1, 40)) }),
        fc.record({
          kind: fc.constant('wrongKey' as const),
          key: fc.oneof(text(0, 20), fc.constantFrom(UNIFIED_APP.key, PAYBY_APP.key, '')),
        }),
        fc.record({
          kind: fc.constant('tamper' as const),
          field: fc.constantFrom(
            'state' as const,
            'cancelOrderId' as const,
            'payAmount' as const,
            'add' as const,
            'remove' as const,
          ),
        }),
        fc.record({
          kind: fc.constant('appendDuplicate' as const),
          value: fc.constantFrom('0', '1', '2', '3', '4', 'x'),
        }),
        fc.oneof(
          fc.record({
            kind: fc.constant('malformed' as const),
            field: fc.constant('state'),
            value: fc.constantFrom('5', '9', '-1', '2.0', 'x', ' 2', '02', '', undefined),
          }),
          fc.record({
            kind: fc.constant('malformed' as const),
            field: fc.constant('reqTime'),
            value: fc.constantFrom('abc', '123', '12345678901234', '1e12', '', undefined),
          }),
          fc.record({
            kind: fc.constant('malformed' as const),
            field: fc.constant('cancelOrderId'),
            value: fc.constantFrom('C'.repeat(31), '', undefined),
          }),
          fc.record({
            kind: fc.constant('malformed' as const),
            field: fc.constantFrom('mchNo', 'appId'),
            value: fc.constantFrom('', undefined, 'M'.repeat(31)),
          }),
          fc.record({
            kind: fc.constant('malformed' as const),
            field: fc.constant('payOrderId'),
            value: fc.constant('P'.repeat(31)),
          }),
        ),
        fc.constant({ kind: 'misaddressed' as const }),
        fc.constant({ kind: 'unmatched' as const }),
        fc.record({
          kind: fc.constant('wrongAccount' as const),
          account: fc.constantFrom('payby-test', 'unified-tes', 'nobody'),
        }),
        fc.record({ kind: fc.constant('wrongContentType' as const), index: fc.nat() }),
      );
      const notification = fc.record({
        state: fc.constantFrom(2, 2, 3, 4, 0, 1),
        numbers: fc.boolean(),
        json: fc.boolean(),
        channelOrderNo: fc.option(text(0, 30), { nil: undefined }),
        errCode: fc.option(text(0, 10), { nil: undefined }),
        errMsg: fc.option(text(0, 30), { nil: undefined }),
        extraParam: fc.option(text(0, 30), { nil: undefined }),
        extra: extras(false),
      });
      await fc.assert(
        fc.asyncProperty(notification, forgery, async (n, f) => {
          const now = Date.now();
          let entries: Entries = [
            ['cancelOrderId', seeded.providerCancelId],
            ['payOrderId', seeded.payOrderId],
            ['mchNo', GATEWAY.mchNo],
            ['appId', GATEWAY.appId],
            ['payAmount', n.numbers && n.json ? 58 : '58'],
            ['currency', 'HKD'],
            ['state', n.numbers && n.json ? n.state : String(n.state)],
            ...(n.channelOrderNo !== undefined
              ? [['channelOrderNo', n.channelOrderNo] as [string, unknown]]
              : []),
            ...(n.errCode !== undefined ? [['errCode', n.errCode] as [string, unknown]] : []),
            ...(n.errMsg !== undefined ? [['errMsg', n.errMsg] as [string, unknown]] : []),
            ...(n.extraParam !== undefined ? [['extraParam', n.extraParam] as [string, unknown]] : []),
            ['createdAt', String(now - 5_000)],
            ...(n.state === 2 ? [['successTime', String(now - 1_000)] as [string, unknown]] : []),
            ['reqTime', n.numbers && n.json ? now : String(now)],
            ...n.extra.filter(
              ([name]) =>
                ![
                  'sign',
                  'state',
                  'cancelOrderId',
                  'payOrderId',
                  'mchNo',
                  'appId',
                  'reqTime',
                  'payAmount',
                  'currency',
                  'createdAt',
                  'successTime',
                  'channelOrderNo',
                  'errCode',
                  'errMsg',
                  'extraParam',
                ].includes(name),
            ),
          ];
          const set = (name: string, value: unknown) => {
            const i = entries.findIndex(([k]) => k === name);
            if (value === undefined) entries = entries.filter(([k]) => k !== name);
            else if (i >= 0) entries[i] = [name, value];
            else entries.push([name, value]);
          };
          let key = GATEWAY.key;
          let account = 'unified-test';
          let type: string | undefined = n.json ? 'application/json' : 'application/x-www-form-urlencoded';
          let expected: string[] = ['invalid-signature'];
          if (f.kind === 'wrongKey') key = f.key === GATEWAY.key ? `${f.key}!` : f.key;
          if (f.kind === 'malformed') {
            set(f.field, f.value);
            expected = ['malformed'];
          }
          if (f.kind === 'misaddressed') {
            set('payOrderId', `P${uniqueRef()}`);
            expected = ['misaddressed'];
          }
          if (f.kind === 'unmatched') {
            set('cancelOrderId', `C${uniqueRef()}`);
            set('payOrderId', `P${uniqueRef()}`);
            expected = ['unmatched'];
          }
          if (f.kind === 'wrongAccount') {
            account = f.account;
            expected = ['unknown-account'];
          }
          if (f.kind === 'wrongContentType') {
            // A type that does not describe the body (an equivalent one would make it genuine).
            const others = [
              'text/plain',
              'application/xml',
              'application/octet-stream',
              'multipart/form-data; boundary=xyz',
              undefined,
            ];
            const wrong = n.json
              ? [
                  'application/x-www-form-urlencoded',
                  'application/x-www-form-urlencoded; charset=UTF-8',
                  ...others,
                ]
              : ['application/json', 'application/json; charset=utf-8', ...others];
            type = wrong[f.index % wrong.length];
            expected = [
              'invalid-signature',
              'malformed',
              'unmatched',
              'misaddressed',
              'unknown-account',
              'none',
            ];
          }
          if (!n.json) entries = asForm(entries);
          if (f.kind !== 'unsigned') entries.push(['sign', signEntries(entries, key)]);
          if (f.kind === 'garbageSign') set('sign', f.value);
          if (f.kind === 'tamper') {
            if (f.field === 'state') set('state', String((n.state + 1) % 5));
            else if (f.field === 'cancelOrderId') set('cancelOrderId', `${seeded.providerCancelId}0`);
            else if (f.field === 'payAmount') set('payAmount', '1');
            else if (f.field === 'add') entries.push(['injected', 'x']);
            else set('currency', undefined);
          }
          if (f.kind === 'appendDuplicate') {
            const value = f.value === String(n.state) ? 'x' : f.value;
            entries.push(['state', value]);
            // JSON.parse and the form reader keep the last: state differs from what was signed.
            if (n.json) expected = ['invalid-signature'];
          }
          const raw = n.json ? jsonBody(entries) : formBody(entries);
          const { ans, verdict } = await callback(account, raw, type);
          count(`callback/${f.kind}`, `${ans.status}:${verdict ?? '-'}`);
          expect(expected).toContain(verdict ?? 'none');
          expect(ans.status).toBeGreaterThanOrEqual(400);
        }),
        runs(300),
      );
    },
    budget(180_000),
  );

  test('afterwards: the seeded workflow got no signal, no repair was started, nothing was signalled', async () => {
    expect(await signalsOfSeeded()).toBe(signalsBefore);
    await new Promise((r) => setTimeout(r, 1_500));
    // Cancellations accepted earlier may show their runs late (visibility lags): those are theirs.
    const theirs = new Set(
      (await world.database.db('cancellations').select('cancel_order_id', 'workflow_id')).flatMap((r) => [
        r.workflow_id as string,
        `notify/${r.cancel_order_id as string}`,
      ]),
    );
    const started = [...(await workflowsOnQueue())].filter(
      (id) => !workflowsBefore.has(id) && !theirs.has(id),
    );
    expect(started).toEqual([]);
    const signalled = await world.database
      .db('provider_callbacks')
      .where({ signalled: true })
      .count({ n: '*' })
      .first();
    expect(Number(signalled!.n)).toBe(0);
    expect(await seededRow()).toMatchObject({ status: 'PENDING', state: 1 });
  });

  test('control: the same notification, genuinely signed, is believed and settles the cancellation', async () => {
    const now = Date.now();
    const entries: Entries = [
      ['cancelOrderId', seeded.providerCancelId],
      ['payOrderId', seeded.payOrderId],
      ['mchNo', GATEWAY.mchNo],
      ['appId', GATEWAY.appId],
      ['payAmount', '58'],
      ['currency', 'HKD'],
      ['state', '2'],
      ['createdAt', String(now - 5_000)],
      ['successTime', String(now - 1_000)],
      ['reqTime', String(now)],
    ];
    entries.push(['sign', signEntries(entries, GATEWAY.key)]);
    const ans = await postRaw(
      `${world.apiUrl}/callbacks/unified/unified-test`,
      formBody(entries),
      'application/x-www-form-urlencoded',
    );
    expect(ans).toMatchObject({ status: 200, text: 'success' });
    await eventually(async () => ((await seededRow())?.status === 'SUCCEEDED' ? true : undefined));
  });
});

// ---------------------------------------------------------------------------------------------
// DEFECTS the properties above found (all fixed): each case pinned as a test.

describe('defects the fuzzing found, fixed (issue 16 item 4)', () => {
  /** A verified Unified Cancel Notification the gateway could send about an order we do not have. */
  const genuineNotification = (): Entries => {
    const now = Date.now();
    const entries: Entries = [
      ['cancelOrderId', `C${uniqueRef()}`],
      ['payOrderId', `P${uniqueRef()}`],
      ['mchNo', GATEWAY.mchNo],
      ['appId', GATEWAY.appId],
      ['payAmount', '58'],
      ['currency', 'HKD'],
      ['state', '2'],
      ['createdAt', String(now - 5_000)],
      ['reqTime', String(now)],
    ];
    entries.push(['sign', signEntries(entries, GATEWAY.key)]);
    return entries;
  };

  test('D1: a verified cancel whose mchOrderNo holds NUL is answered (0, or 1002 naming it), never 503, and leaves no orphan workflow', async () => {
    const mchOrderNo = `${uniqueRef()}\u0000`;
    const entries: Entries = [
      ['mchNo', PAYBY_APP.mchNo],
      ['appId', PAYBY_APP.appId],
      ['mchOrderNo', mchOrderNo],
      ['reqTime', String(Date.now())],
      ['version', '1.0'],
      ['signType', 'MD5'],
    ];
    entries.push(['sign', signEntries(entries, PAYBY_APP.key)]);
    // Was: 503 9999 after ~6 s and a workflow whose recordCancellation failed forever (22021).
    const ans = await postRaw(`${world.apiUrl}${CANCEL}`, jsonBody(entries), 'application/json');
    const reply = ans.json as Reply;
    expect(ans.status).toBeLessThan(500);
    expect([0, 1002]).toContain(reply.code);
    if (reply.code === 1002) {
      expect(reply.msg).toMatch(/^mchOrderNo: /);
      await assertNoWorkflow([cancellationWorkflowId('payby-test', PAYBY_APP, `mch:${mchOrderNo}`)]);
    }
  }, 30_000);

  test.each([
    ['an account id with NUL (/callbacks/unified/%00)', '%00', 'a=b', 'application/x-www-form-urlencoded'],
    [
      'a raw NUL in the body (known account)',
      'unified-test',
      'a=\u0000',
      'application/x-www-form-urlencoded',
    ],
    ['a raw NUL in the body (unknown account)', 'nobody', '{"a":"\u0000"}', 'application/json'],
    [
      'a cancelOrderId that decodes to NUL',
      'unified-test',
      'cancelOrderId=%00&sign=x',
      'application/x-www-form-urlencoded',
    ],
  ])(
    'D2: a callback with %s is refused with a 4xx, not a 500 carrying the SQL error',
    async (_label, account, body, type) => {
      // Was: 500 with the SQL error (22021) in the body.
      const ans = await postRaw(`${world.apiUrl}/callbacks/unified/${account}`, body, type);
      expect(ans.status).toBeGreaterThanOrEqual(400);
      expect(ans.status).toBeLessThan(500);
    },
  );

  test("D3: at most 1 KiB of an unknown account's callback is stored (bytes, not UTF-16 units)", async () => {
    const from = await lastCallbackId();
    const ans = await postRaw(
      `${world.apiUrl}/callbacks/unified/nobody`,
      '€'.repeat(2_000),
      'application/json',
    );
    expect(ans.status).toBe(404);
    const [stored] = await callbacksAfter(from);
    // Was: 3072 bytes (1024 characters of 3 bytes each).
    expect(stored!.bytes).toBeLessThanOrEqual(1024);
  });

  test('D4: a genuine form notification sent as "Application/X-WWW-Form-Urlencoded" is read as a form (media types are case-insensitive)', async () => {
    const from = await lastCallbackId();
    const ans = await postRaw(
      `${world.apiUrl}/callbacks/unified/unified-test`,
      formBody(genuineNotification()),
      'Application/X-WWW-Form-Urlencoded',
    );
    const [stored] = await callbacksAfter(from);
    // Was: 400 "fail: body is neither JSON nor a form", verdict malformed.
    expect({ status: ans.status, verdict: stored?.verdict }).toEqual({ status: 404, verdict: 'unmatched' });
  });

  test('D4 control: the same notification with the lower-case type verifies (unmatched)', async () => {
    const from = await lastCallbackId();
    const ans = await postRaw(
      `${world.apiUrl}/callbacks/unified/unified-test`,
      formBody(genuineNotification()),
      'application/x-www-form-urlencoded',
    );
    const [stored] = await callbacksAfter(from);
    expect({ status: ans.status, verdict: stored?.verdict }).toEqual({ status: 404, verdict: 'unmatched' });
  });
});
