import fc from 'fast-check';
import type { UrlPolicy } from '../../common/url-policy';
import { parseOrThrow, startCancellationSchema, ValidationError } from '../../client/validation';
import {
  CANCEL_NOTIFICATION_FIELDS,
  CANCEL_QUERY_FIELDS,
  CANCEL_REQUEST_FIELDS,
  cancelRequestSchema,
  checkCancelRequest,
  ProtocolError,
  readParams,
  reqTimeMs,
  type FieldRules,
} from '../../providers/unified/protocol';
import { duplicateJsonName, topLevelNameCount } from '../../providers/unified/read-params';
import { md5Sign } from '../../providers/unified/sign';

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const strict: UrlPolicy = { allowHosts: [], allowPrivateNetworks: false };
const dev: UrlPolicy = { allowHosts: [], allowPrivateNetworks: true };

/** The request vector of PROVIDERS.md (key `testkey123`). */
const vector = {
  mchNo: 'M1623984572',
  appId: '60cc09bce4b0f1c0b83761c9',
  payOrderId: 'P202106181104177050002',
  reqTime: '1624006009',
  version: '1.0',
  signType: 'MD5',
  sign: '6CAF47A03783A664A268EA45772C54E1',
};

const json = (fields: Record<string, unknown>) => JSON.stringify(fields);
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** What readParams throws, as `field: reason`, or 'accepted'. */
function refusal(raw: string, contentType: string | undefined, rules: FieldRules = CANCEL_REQUEST_FIELDS) {
  try {
    readParams(raw, contentType, rules);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return `${err.code} ${err.message}`;
  }
}

function schemaRefusal(fields: Record<string, unknown>, policy: UrlPolicy = strict) {
  try {
    checkCancelRequest(fields, policy);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return err.message;
  }
}

describe('readParams: bodies', () => {
  test('JSON and form bodies give the same flat strings, which the signature covers', () => {
    const fromJson = readParams(json(vector), JSON_TYPE, CANCEL_REQUEST_FIELDS);
    const fromForm = readParams(form(vector), `${FORM_TYPE}; charset=UTF-8`, CANCEL_REQUEST_FIELDS);
    expect(fromJson).toEqual(vector);
    expect(fromForm).toEqual(vector);
    expect(md5Sign(fromJson, 'testkey123')).toBe(vector.sign);
  });

  test('a content type of any case is recognised; no content type means JSON', () => {
    expect(readParams(form(vector), 'Application/X-WWW-Form-Urlencoded', CANCEL_REQUEST_FIELDS)).toEqual(
      vector,
    );
    expect(readParams(json(vector), undefined, CANCEL_REQUEST_FIELDS)).toEqual(vector);
  });

  test.each([
    ['', JSON_TYPE, 'BAD_BODY body: is empty'],
    ['  \n', FORM_TYPE, 'BAD_BODY body: is empty'],
    ['{"mchNo":', JSON_TYPE, 'BAD_BODY body: is not valid JSON'],
    [form(vector), JSON_TYPE, 'BAD_BODY body: is not valid JSON'],
    ['[1,2]', JSON_TYPE, 'BAD_BODY body: must be a JSON object'],
    ['"text"', JSON_TYPE, 'BAD_BODY body: must be a JSON object'],
    ['null', JSON_TYPE, 'BAD_BODY body: must be a JSON object'],
    ['42', undefined, 'BAD_BODY body: must be a JSON object'],
  ])('%j (%s) → %s', (raw, type, expected) => {
    expect(refusal(raw, type)).toBe(expected);
  });

  test('a name given twice is ambiguous (which one was signed?): refused naming it', () => {
    expect(refusal(`${form(vector)}&payOrderId=P2`, FORM_TYPE)).toBe(
      'BAD_FIELD payOrderId: is given more than once',
    );
    expect(refusal(`${form(vector)}&extra=1&extra=1`, FORM_TYPE)).toBe(
      'BAD_FIELD extra: is given more than once',
    );
    expect(refusal(`=a&=b&${form(vector)}`, FORM_TYPE)).toBe(
      'BAD_FIELD (empty name): is given more than once',
    );
    const twice = `{"mchNo":"M1","payOrderId":"P1",${json(vector).slice(1)}`;
    expect(refusal(twice, JSON_TYPE)).toBe('BAD_FIELD mchNo: is given more than once');
    const escaped = `{"pay\\u004frderId":"P9",${json(vector).slice(1)}`;
    expect(refusal(escaped, JSON_TYPE)).toBe('BAD_FIELD payOrderId: is given more than once');
  });

  test('names repeated inside nested values or string values are not duplicates', () => {
    const nested = json({
      ...vector,
      extra: { mchNo: 'x', list: [{ mchNo: 'y' }, '"mchNo":'] },
      note: '{"mchNo":"z"}, "mchNo":',
    });
    expect(readParams(nested, JSON_TYPE, CANCEL_REQUEST_FIELDS)).toMatchObject({
      mchNo: vector.mchNo,
      extra: '{"mchNo":"x","list":[{"mchNo":"y"},"\\"mchNo\\":"]}',
    });
  });
});

describe('repeated names: the allocation-free count decides when the names are read', () => {
  // A small pool of names, some spelled with escapes, so that repeats are frequent.
  const name = fc.constantFrom(
    'mchNo',
    'm\\u0063hNo',
    'a',
    'A',
    '',
    '__proto__',
    '1',
    'x\\"y',
    'é',
    '\\u00e9',
  );
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.constantFrom('"{\\"a\\":1,"', '"\\\\"', '[{"a":1},{"a":2}]', '{"a":{"a":[]}}', '","'),
  );
  const space = fc.constantFrom('', ' ', '\n\t ');
  const objectText = fc
    .array(fc.tuple(name, value, space), { maxLength: 12 })
    .chain((pairs) =>
      space.map((s) => `${s}{${pairs.map(([k, v, w]) => `${w}"${k}"${w}:${w}${v}${w}`).join(',')}}${s}`),
    );

  test('a text repeats a top-level name exactly when it gives more names than JSON.parse keeps', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          objectText,
          fc.json().filter((t) => /^\s*\{/.test(t)),
        ),
        (raw) => {
          const kept = Object.keys(JSON.parse(raw) as object).length;
          const repeated = duplicateJsonName(raw);
          expect(topLevelNameCount(raw) > kept).toBe(repeated !== undefined);
          expect(topLevelNameCount(raw)).toBeGreaterThanOrEqual(kept);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test('readParams refuses every repeated name the count finds, naming it', () => {
    fc.assert(
      fc.property(objectText, (raw) => {
        const repeated = duplicateJsonName(raw);
        let refusal: string | undefined;
        try {
          readParams(raw, JSON_TYPE, {});
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          refusal = err.message;
        }
        if (repeated === undefined) expect(refusal).toBeUndefined();
        else expect(refusal).toContain('is given more than once');
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('readParams: fields', () => {
  test('a field nested deeper than it can be signed is refused naming it, not failed as our error', () => {
    const deep = (depth: number) => `{"extra":${'['.repeat(depth)}${']'.repeat(depth)},"mchNo":"M1"}`;
    expect(refusal(deep(20_000), JSON_TYPE)).toBe('BAD_FIELD extra: is nested too deeply');
    // Deep but signable: the field rules decide (appId is missing), not the nesting.
    expect(refusal(deep(1_000), JSON_TYPE)).toMatch(/^BAD_FIELD (?!extra)/);
  });

  test('null and undefined values are dropped; empty strings are kept (the signature drops them)', () => {
    const params = readParams(
      json({ ...vector, mchOrderNo: null, clientIp: '' }),
      JSON_TYPE,
      CANCEL_REQUEST_FIELDS,
    );
    expect(params).not.toHaveProperty('mchOrderNo');
    expect(params.clientIp).toBe('');
  });

  test('reqTime, a seed `long`, may be a JSON number (a safe integer) and is read as its digits', () => {
    const params = readParams(json({ ...vector, reqTime: 1622016572190 }), JSON_TYPE, CANCEL_REQUEST_FIELDS);
    expect(params.reqTime).toBe('1622016572190');
    expect(reqTimeMs(params.reqTime!)).toBe(1622016572190);
    expect(reqTimeMs('1624006009')).toBe(1624006009000);
  });

  test.each([
    [{ reqTime: 1.5e12 + 0.5 }, 'reqTime: must be a number or digit string'],
    [{ reqTime: 2 ** 53 }, 'reqTime: must be a number or digit string'],
    [{ reqTime: true }, 'reqTime: must be a number or digit string'],
    [{ payOrderId: 12345 }, 'payOrderId: must be a string'],
    [{ mchOrderNo: { a: 1 } }, 'mchOrderNo: must be a string'],
    [{ clientIp: ['1.2.3.4'] }, 'clientIp: must be a string'],
    [{ channelExtra: { auth_code: '1' } }, 'channelExtra: must be a string'],
    [{ version: 1.0 }, 'version: must be a string'],
    [{ sign: false }, 'sign: must be a string'],
  ])('a known field of another type: %j → %s', (fields, message) => {
    expect(refusal(json({ ...vector, ...fields }), JSON_TYPE)).toBe(`BAD_FIELD ${message}`);
  });

  test.each(['mchNo', 'appId', 'reqTime', 'version', 'sign', 'signType'])('%s is required', (name) => {
    const fields: Record<string, unknown> = { ...vector };
    delete fields[name];
    expect(refusal(json(fields), JSON_TYPE)).toBe(`BAD_FIELD ${name}: is required`);
    expect(refusal(json({ ...fields, [name]: '' }), JSON_TYPE)).toBe(`BAD_FIELD ${name}: is required`);
    expect(refusal(json({ ...fields, [name]: null }), JSON_TYPE)).toBe(`BAD_FIELD ${name}: is required`);
  });

  test.each([
    ['mchNo', 30],
    ['appId', 24],
    ['payOrderId', 30],
    ['mchOrderNo', 30],
    ['clientIp', 32],
    ['notifyUrl', 128],
    ['channelExtra', 256],
    ['extParam', 512],
    ['sign', 32],
    ['signType', 32],
  ])('%s: at most %i characters (seed lengths)', (name, max) => {
    expect(CANCEL_REQUEST_FIELDS[name as keyof typeof CANCEL_REQUEST_FIELDS].max).toBe(max);
    expect(refusal(json({ ...vector, [name]: 'x'.repeat(max + 1) }), JSON_TYPE)).toBe(
      `BAD_FIELD ${name}: must be at most ${max} characters`,
    );
  });

  test.each([
    [{ version: '2.0' }, 'version: must be "1.0"'],
    [{ version: '1' }, 'version: must be "1.0"'],
    [{ signType: 'SHA256' }, 'signType: must be "MD5"'],
    [{ signType: 'md5' }, 'signType: must be "MD5"'],
    [{ reqTime: 'yesterday' }, 'reqTime: must be a 13-digit millisecond timestamp'],
    [{ reqTime: '16240060090' }, 'reqTime: must be a 13-digit millisecond timestamp'],
    [{ reqTime: '162400600' }, 'reqTime: must be a 13-digit millisecond timestamp'],
    [{ reqTime: -162201657219 }, 'reqTime: must be a 13-digit millisecond timestamp'],
    [{ reqTime: '+1622016572190' }, 'reqTime: must be at most 13 characters'],
  ])('fixed values and reqTime: %j → %s', (fields, message) => {
    expect(refusal(json({ ...vector, ...fields }), JSON_TYPE)).toBe(`BAD_FIELD ${message}`);
  });

  test('reqTime: 13 digits (milliseconds) and 10 digits (seconds, as the seed examples send) pass', () => {
    expect(refusal(json({ ...vector, reqTime: '1622016572190' }), JSON_TYPE)).toBe('accepted');
    expect(refusal(json({ ...vector, reqTime: 1624006009 }), JSON_TYPE)).toBe('accepted');
  });

  test('unknown fields are kept as strings, since they are signed; odd names are plain data', () => {
    const params = readParams(
      json({ ...vector, extra: 'x', count: 3, flag: false, obj: { a: [1] }, constructor: 1, __proto__: 'p' }),
      JSON_TYPE,
      CANCEL_REQUEST_FIELDS,
    );
    expect(params).toMatchObject({
      extra: 'x',
      count: '3',
      flag: 'false',
      obj: '{"a":[1]}',
      constructor: '1',
    });
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    const fromForm = readParams(`${form(vector)}&__proto__=p&toString=t`, FORM_TYPE, CANCEL_REQUEST_FIELDS);
    expect(Object.getOwnPropertyDescriptor(fromForm, '__proto__')?.value).toBe('p');
    expect(fromForm.toString).toBe('t');
  });

  test('the query request: cancelOrderId required, at most 30', () => {
    const query = { ...vector, cancelOrderId: 'C202106181104177050002' };
    delete (query as Record<string, unknown>).payOrderId;
    expect(readParams(json(query), JSON_TYPE, CANCEL_QUERY_FIELDS)).toEqual(query);
    expect(refusal(json({ ...query, cancelOrderId: '' }), JSON_TYPE, CANCEL_QUERY_FIELDS)).toBe(
      'BAD_FIELD cancelOrderId: is required',
    );
    expect(refusal(json({ ...query, cancelOrderId: 'C'.repeat(31) }), JSON_TYPE, CANCEL_QUERY_FIELDS)).toBe(
      'BAD_FIELD cancelOrderId: must be at most 30 characters',
    );
  });

  test('the notification: the seed example reads as sent, numbers included', () => {
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
      sign: 'C768C63F3E06BF969F5DF12B728199B3',
    };
    const params = readParams(json(notification), JSON_TYPE, CANCEL_NOTIFICATION_FIELDS);
    expect(params).toMatchObject({ payAmount: '5', state: '2' });
    expect(md5Sign(params, 'testkey123')).toBe(notification.sign);
    expect(refusal(json({ ...notification, currency: 'HKDX' }), JSON_TYPE, CANCEL_NOTIFICATION_FIELDS)).toBe(
      'BAD_FIELD currency: must be at most 3 characters',
    );
  });
});

describe('cancelRequestSchema: the business fields', () => {
  const base = { mchNo: vector.mchNo, appId: vector.appId, mchOrderNo: '20160427210604000490' };

  test('the seed example passes; other keys are stripped; empty optional strings are absent', () => {
    const example = {
      ...vector,
      mchOrderNo: '20160427210604000490',
      clientIp: '192.166.1.132',
      notifyUrl: 'https://www.gnete.com.hk/notify.htm',
      channelExtra: '',
      extParam: '',
    };
    expect(checkCancelRequest(example, strict)).toEqual({
      mchNo: 'M1623984572',
      appId: '60cc09bce4b0f1c0b83761c9',
      payOrderId: 'P202106181104177050002',
      mchOrderNo: '20160427210604000490',
      clientIp: '192.166.1.132',
      notifyUrl: 'https://www.gnete.com.hk/notify.htm',
      channelExtra: undefined,
      extParam: undefined,
    });
  });

  test('payOrderId or mchOrderNo is required (named payOrderId); either one is enough', () => {
    expect(schemaRefusal({ mchNo: 'M', appId: 'A' })).toBe(
      'payOrderId: payOrderId or mchOrderNo is required',
    );
    expect(schemaRefusal({ mchNo: 'M', appId: 'A', payOrderId: '', mchOrderNo: '' })).toBe(
      'payOrderId: payOrderId or mchOrderNo is required',
    );
    expect(schemaRefusal({ mchNo: 'M', appId: 'A', payOrderId: 'P1' })).toBe('accepted');
    expect(schemaRefusal({ mchNo: 'M', appId: 'A', mchOrderNo: 'O1' })).toBe('accepted');
  });

  test.each([
    [{ mchNo: undefined }, 'mchNo: is required'],
    [{ mchNo: '' }, 'mchNo: is required'],
    [{ appId: 42 }, 'appId: must be a string'],
    [{ appId: 'a'.repeat(25) }, 'appId: must be at most 24 characters'],
    [{ mchOrderNo: 'm'.repeat(31) }, 'mchOrderNo: must be at most 30 characters'],
    [{ payOrderId: null }, 'payOrderId: must be a string'],
    [{ extParam: 'e'.repeat(513) }, 'extParam: must be at most 512 characters'],
    [{ notifyUrl: `https://a.b/${'n'.repeat(120)}` }, 'notifyUrl: must be at most 128 characters'],
  ])('%j → %s', (fields, message) => {
    expect(schemaRefusal({ ...base, ...fields })).toBe(message);
  });

  describe('clientIp: a dotted-quad IPv4 address', () => {
    test.each(['210.73.10.148', '0.0.0.0', '255.255.255.255', '10.0.0.1', '1.2.3.4', '100.200.250.199'])(
      '%s passes',
      (clientIp) => {
        expect(schemaRefusal({ ...base, clientIp })).toBe('accepted');
      },
    );
    test.each([
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.04',
      '1.2.3.00',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '1.2.3.-4',
      '1.2.3.4/24',
      '0x7f.0.0.1',
      '2130706433',
      '::1',
      '::ffff:1.2.3.4',
      'localhost',
      '１.２.３.４',
      '1.2.3.4\n',
    ])('%j is refused', (clientIp) => {
      expect(schemaRefusal({ ...base, clientIp })).toBe('clientIp: must be an IPv4 address');
    });
  });

  describe('channelExtra: JSON text of an object or array', () => {
    test.each(['{"auth_code":"13920933111042"}', '[]', '{}', ' [1, {"a": null}] ', '{"a":{"b":[true]}}'])(
      '%s passes',
      (channelExtra) => {
        expect(schemaRefusal({ ...base, channelExtra })).toBe('accepted');
      },
    );
    test.each([
      '{"auth_code", "13920933111042"}', // the seed's own example: not JSON
      '"text"',
      '42',
      'true',
      'null',
      'auth_code=1',
      '{"a":1',
      "{'a':1}",
    ])('%s is refused', (channelExtra) => {
      expect(schemaRefusal({ ...base, channelExtra })).toBe(
        'channelExtra: must be JSON text of an object or array',
      );
    });
  });

  describe('notifyUrl: the notification policy, now', () => {
    test.each([
      ['ftp://a.b/n', strict, /^notifyUrl: must be an http\(s\) URL/],
      ['hooks.example.com/n', strict, /^notifyUrl: must be an http\(s\) URL$/],
      ['https://u:p@hooks.example.com/', strict, /^notifyUrl: credentials in the URL are not allowed$/],
      ['https://hooks.example.com/ n', strict, /^notifyUrl: must not contain spaces/],
      [
        'http://169.254.169.254/latest/meta-data',
        dev,
        /^notifyUrl: address 169\.254\.169\.254 is link-local/,
      ],
      ['http://[::]:9464/', dev, /^notifyUrl: address :: is link-local, metadata or reserved/],
      ['http://[::ffff:127.0.0.1]/n', strict, /^notifyUrl: address ::ffff:7f00:1 is loopback or private/],
      ['http://127.0.0.1:8080/n', strict, /^notifyUrl: address 127\.0\.0\.1 is loopback or private/],
      ['http://localhost:8080/n', strict, /^notifyUrl: host localhost is loopback/],
      [
        'http://metadata.google.internal/',
        dev,
        /^notifyUrl: host metadata\.google\.internal is a cloud metadata/,
      ],
      [
        'https://evil.test/n',
        { allowHosts: ['*.example.com'], allowPrivateNetworks: false },
        /^notifyUrl: host evil\.test is not in notifications\.allowHosts$/,
      ],
    ])('%s is refused', (notifyUrl, policy, message) => {
      expect(schemaRefusal({ ...base, notifyUrl }, policy)).toMatch(message);
    });

    test.each([
      ['https://www.gnete.com.hk/notify.htm', strict],
      ['http://127.0.0.1:8080/n', dev],
      ['http://localhost:8080/n', dev],
      ['https://a.example.com/n', { allowHosts: ['*.example.com'], allowPrivateNetworks: false }],
      ['https://internal.corp/n', { allowHosts: ['10.0.0.0/8'], allowPrivateNetworks: false }],
    ])('%s passes', (notifyUrl, policy) => {
      expect(schemaRefusal({ ...base, notifyUrl }, policy)).toBe('accepted');
    });
  });

  test('one schema per policy object', () => {
    expect(cancelRequestSchema(strict)).toBe(cancelRequestSchema(strict));
    expect(cancelRequestSchema(strict)).not.toBe(cancelRequestSchema(dev));
  });
});

describe('the client: the same rules, as ValidationError', () => {
  test('the field is named', () => {
    const error = (() => {
      try {
        parseOrThrow(startCancellationSchema(strict), { ...vector, clientIp: '999.1.1.1' });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'clientIp', code: 'INVALID_REQUEST' });
    expect((error as Error).message).toBe('clientIp: must be an IPv4 address');
  });

  test('a request that is not an object is refused as a whole', () => {
    expect(() => parseOrThrow(startCancellationSchema(strict), null)).toThrow(/^\(request\): /);
  });
});

describe('property: any body is accepted or refused naming a field, never another error', () => {
  const KNOWN = [...new Set([...Object.keys(CANCEL_REQUEST_FIELDS), ...Object.keys(CANCEL_QUERY_FIELDS)])];
  const name = fc.oneof(
    fc.constantFrom(...KNOWN, 'constructor', '__proto__', 'toString', 'hasOwnProperty', ''),
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 100 }),
  );
  const digits = fc.stringMatching(/^\d{0,16}$/);
  const value = fc.oneof(
    fc.constantFrom(
      '1.0',
      'MD5',
      '1622016572190',
      '1624006009',
      '210.73.10.148',
      '{"a":1}',
      '[]',
      'https://a.b/n',
    ),
    fc.constantFrom('http://[::]:9464/', 'http://127.0.0.1/', 'http://localhost/', '01.2.3.4', '{"a", "b"}'),
    fc.string(),
    fc.string({ unit: 'binary' }),
    digits,
    digits.map(Number),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 3 }),
    fc.integer({ min: 0, max: 100_000 }).map((n) => 'é'.repeat(n)),
  );
  const pairs = fc.array(fc.tuple(name, value), { maxLength: 20 });
  /** A valid cancel request to start from, so that random fields reach the later rules too. */
  const withBase = fc.boolean().map((b) => (b ? Object.entries(vector) : []));

  const jsonBody = fc.tuple(withBase, pairs).map(([b, p]) => ({
    raw: `{${[...b, ...p].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`,
    contentType: JSON_TYPE,
  }));
  const formBody = fc.tuple(withBase, pairs).map(([b, p]) => ({
    raw: [...b, ...p]
      .map(
        ([k, v]) =>
          `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`,
      )
      .join('&'),
    contentType: `${FORM_TYPE}; charset=utf-8`,
  }));
  const rawBody = fc.record({
    raw: fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })),
    contentType: fc.constantFrom(undefined, JSON_TYPE, FORM_TYPE, 'text/plain'),
  });
  const policy = fc.constantFrom<UrlPolicy>(strict, dev, {
    allowHosts: ['*.example.com', '10.0.0.0/8'],
    allowPrivateNetworks: false,
  });

  /** The names a refusal may give: the body, a rule's field, or a name in the body (as labelled). */
  function namesIn(raw: string, contentType: string | undefined): Set<string> {
    const names = new Set<string>(['body', ...KNOWN]);
    let given: string[] = [];
    if (contentType?.startsWith(FORM_TYPE)) given = [...new URLSearchParams(raw).keys()];
    else
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed && typeof parsed === 'object') given = Object.keys(parsed);
      } catch {
        // not JSON: only `body` can be named
      }
    for (const n of given) names.add(n === '' ? '(empty name)' : n.length > 64 ? `${n.slice(0, 64)}…` : n);
    return names;
  }

  test('readParams, then the schema', () => {
    fc.assert(
      fc.property(fc.oneof(jsonBody, formBody, rawBody), policy, ({ raw, contentType }, p) => {
        let stage = 'readParams';
        try {
          const params = readParams(raw, contentType, CANCEL_REQUEST_FIELDS);
          for (const v of Object.values(params)) expect(typeof v).toBe('string');
          stage = 'schema';
          const request = checkCancelRequest(params, p);
          expect(typeof request.mchNo).toBe('string');
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          expect(err.message).toBe(`${err.field}: ${err.reason}`);
          expect(namesIn(raw, contentType)).toContain(err.field);
          expect(err.code).toBe(err.field === 'body' ? 'BAD_BODY' : 'BAD_FIELD');
          if (stage === 'schema') expect(Object.keys(CANCEL_REQUEST_FIELDS)).toContain(err.field);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('the query request likewise', () => {
    fc.assert(
      fc.property(fc.oneof(jsonBody, formBody, rawBody), ({ raw, contentType }) => {
        try {
          readParams(raw, contentType, CANCEL_QUERY_FIELDS);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          expect(namesIn(raw, contentType)).toContain(err.field);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('the client schema over any value gives a result or a ValidationError naming a field', () => {
    const fields = Object.keys(cancelRequestSchema(strict).shape);
    const request = fc.oneof(
      fc.anything(),
      fc.record(Object.fromEntries(fields.map((f) => [f, value])) as Record<string, fc.Arbitrary<unknown>>, {
        requiredKeys: [],
      }),
    );
    fc.assert(
      fc.property(request, policy, (input, p) => {
        try {
          parseOrThrow(startCancellationSchema(p), input);
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          expect([...fields, '(request)']).toContain(err.field);
          expect(err.message.startsWith(`${err.field}: `)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
    // And the zod issues themselves, for callers that use the schema directly.
    const parsed = cancelRequestSchema(strict).safeParse({ mchNo: 1 });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(['mchNo']);
  });
});
