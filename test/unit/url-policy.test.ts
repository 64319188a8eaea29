import { checkUrl, policyLookup, refusedAddress, type UrlPolicy } from '../../common/url-policy';

const strict: UrlPolicy = { allowHosts: [], allowPrivateNetworks: false };
const dev: UrlPolicy = { allowHosts: [], allowPrivateNetworks: true };
const namesOnly: UrlPolicy = {
  allowHosts: ['*.example.com', 'hooks.partner.test'],
  allowPrivateNetworks: false,
};
const withNetwork: UrlPolicy = { allowHosts: ['*.example.com', '10.0.0.0/8'], allowPrivateNetworks: false };

const reasonOf = (url: string, policy: UrlPolicy) => {
  const checked = checkUrl(url, policy);
  return checked.ok ? undefined : checked.reason;
};

describe('checkUrl: the form of the URL', () => {
  test.each([
    ['ftp://a.b/n', /^must be an http\(s\) URL, not ftp:/],
    ['javascript:alert(1)', /^must be an http\(s\) URL, not javascript:/],
    ['file:///etc/passwd', /^must be an http\(s\) URL/],
    ['not a url', /spaces/],
    ['/relative/path', /^must be an http\(s\) URL$/],
    ['http://user:pw@hooks.example.com/', /credentials/],
    ['http://user@hooks.example.com/', /credentials/],
    ['http://exa\nmple.com/', /spaces or control characters/],
    ['http://example.com/\t', /spaces or control characters/],
    [' http://example.com/', /spaces or control characters/],
    ['http://example.com/a b', /spaces or control characters/],
    ['http://example.com/\u0000', /spaces or control characters/],
  ])('%j is refused', (url, reason) => {
    expect(reasonOf(url, dev)).toMatch(reason);
  });

  test.each([
    'https://www.gnete.com.hk/notify.htm',
    'http://hooks.example.com:8443/cancel?x=1#y',
    'HTTPS://Hooks.Example.COM/',
    'http://93.184.216.34/notify',
    'http://[2606:4700:4700::1111]/notify',
    'http://198.20.0.1/',
  ])('%s is accepted under the strict policy', (url) => {
    expect(checkUrl(url, strict)).toMatchObject({ ok: true });
  });
});

describe('checkUrl: always refused, whatever the policy', () => {
  const everything: UrlPolicy = { allowHosts: [], allowPrivateNetworks: true };
  test.each([
    'http://169.254.169.254/latest/meta-data',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[fe80::1]/',
    'http://[fd00:ec2::254]/',
    'http://100.100.100.200/',
    'http://0.0.0.0:9464/',
    'http://0/',
    'http://[::]:9464/',
    'http://[::0]/',
    'http://[::a00:1]/', // IPv4-compatible ::10.0.0.1
    'http://[::127.0.0.1]/',
    'http://[::ffff:0:7f00:1]/', // IPv4-translated
    'http://[64:ff9b::10.0.0.1]/', // NAT64 of a private address
    'http://[64:ff9b::5db8:d822]/', // NAT64 of a public one: still refused
    'http://[64:ff9b:1::1]/',
    'http://198.18.0.1/',
    'http://198.19.255.255/',
    'http://[::ffff:198.18.0.1]/',
    'http://240.0.0.1/',
    'http://255.255.255.255/',
    'http://[::ffff:240.0.0.1]/',
    'http://224.0.0.1/',
    'http://[ff02::1]/',
  ])('%s', (url) => {
    expect(reasonOf(url, everything)).toMatch(/is link-local, metadata or reserved/);
    expect(reasonOf(url, { ...everything, allowHosts: ['0.0.0.0/0', '::/0'] })).toMatch(/reserved/);
  });

  test.each([
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://METADATA.Google.Internal./',
    'http://metadata/',
    'http://metadata.goog/',
    'http://instance-data/latest/',
  ])('metadata name %s', (url) => {
    expect(reasonOf(url, everything)).toMatch(/is a cloud metadata service/);
    expect(reasonOf(url, { ...everything, allowHosts: ['metadata.google.internal', 'metadata'] })).toMatch(
      /metadata/,
    );
  });
});

describe('checkUrl: loopback and private networks', () => {
  test.each([
    'http://127.0.0.1:8080/',
    'http://2130706433/', // 127.0.0.1 written as a number
    'http://0x7f.1/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://10.1.2.3/',
    'http://[::ffff:10.1.2.3]/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://[fc00::1]/',
    'http://[fd12:3456::1]/',
  ])('%s: refused unless private networks are allowed', (url) => {
    expect(reasonOf(url, strict)).toMatch(
      /is loopback or private \(notifications.allowPrivateNetworks is off\)/,
    );
    expect(checkUrl(url, dev)).toMatchObject({ ok: true });
  });

  test.each([
    'http://localhost:3000/',
    'http://LOCALHOST./',
    'http://hooks.localhost/',
    'http://a.b.localhost./',
  ])(
    '%s: a localhost name is loopback, refused unless private networks are allowed or it is listed',
    (url) => {
      expect(reasonOf(url, strict)).toMatch(
        /^host .* is loopback \(notifications.allowPrivateNetworks is off\)/,
      );
      expect(checkUrl(url, dev)).toMatchObject({ ok: true });
      expect(
        checkUrl(url, { allowHosts: ['localhost', '*.localhost'], allowPrivateNetworks: false }),
      ).toMatchObject({ ok: true });
    },
  );

  test('names that only contain "localhost" are not loopback', () => {
    expect(checkUrl('http://localhost.example.com/', strict)).toMatchObject({ ok: true });
    expect(checkUrl('http://mylocalhost/', strict)).toMatchObject({ ok: true });
  });

  test('a private address listed in allowHosts is allowed without allowPrivateNetworks', () => {
    expect(checkUrl('http://10.2.3.4/', withNetwork)).toMatchObject({ ok: true });
    expect(checkUrl('http://[::ffff:10.2.3.4]/', withNetwork)).toMatchObject({ ok: true });
    expect(checkUrl('http://[::ffff:a02:304]/', withNetwork)).toMatchObject({ ok: true });
    expect(reasonOf('http://192.168.1.1/', withNetwork)).toMatch(/not in notifications.allowHosts/);
    expect(checkUrl('http://[::1]/', { allowHosts: ['::1'], allowPrivateNetworks: false })).toMatchObject({
      ok: true,
    });
  });
});

describe('checkUrl: a non-empty allowHosts', () => {
  test('listed names and suffixes pass, with or without the trailing dot', () => {
    for (const url of [
      'https://a.example.com/n',
      'https://A.Example.Com./n',
      'https://deep.a.example.com/',
      'https://hooks.partner.test/',
    ])
      expect(checkUrl(url, namesOnly)).toMatchObject({ ok: true });
  });

  test('an unlisted name is refused now when no listed network could hold it', () => {
    expect(reasonOf('https://evil.test/', namesOnly)).toBe(
      'host evil.test is not in notifications.allowHosts',
    );
    expect(reasonOf('https://example.com/', namesOnly)).toMatch(/not in notifications.allowHosts/);
    expect(reasonOf('https://example.com.evil.test/', namesOnly)).toMatch(/not in notifications.allowHosts/);
  });

  test('an unlisted name is left to lookup time when a listed network could hold it', () => {
    expect(checkUrl('https://internal.corp/', withNetwork)).toMatchObject({ ok: true });
    expect(refusedAddress('internal.corp', '10.9.9.9', withNetwork)).toBeUndefined();
    expect(refusedAddress('internal.corp', '93.184.216.34', withNetwork)).toMatch(
      /not in notifications.allowHosts/,
    );
  });

  test('an unlisted IP literal is refused', () => {
    expect(reasonOf('http://93.184.216.34/', namesOnly)).toMatch(/not in notifications.allowHosts/);
  });

  test('a malformed network entry lists nothing and never throws', () => {
    const broken: UrlPolicy = { allowHosts: ['10.0.0.0/99', '10.0.0.0/x'], allowPrivateNetworks: false };
    expect(reasonOf('http://10.1.1.1/', broken)).toMatch(/not in notifications.allowHosts/);
  });
});

describe('refusedAddress (what the lookup checks)', () => {
  test('the cases the notification test relies on', () => {
    expect(refusedAddress('localhost', '127.0.0.1', strict)).toMatch(/loopback or private/);
    expect(refusedAddress('x', '10.1.2.3', strict)).toMatch(/private/);
    expect(refusedAddress('x', '::ffff:169.254.169.254', dev)).toMatch(/link-local/);
    expect(refusedAddress('hooks.example.com', '93.184.216.34', strict)).toBeUndefined();
    expect(refusedAddress('a.example.com', '93.184.216.34', withNetwork)).toBeUndefined();
    expect(refusedAddress('evil.test', '93.184.216.34', withNetwork)).toMatch(
      /not in notifications.allowHosts/,
    );
  });

  test('IPv4-mapped addresses are judged as the IPv4 address they carry, in either notation', () => {
    for (const ip of ['::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1', '::FFFF:7F00:1'])
      expect(refusedAddress('x', ip, strict)).toMatch(/loopback or private/);
    for (const ip of ['::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:0.0.0.0', '::ffff:0:0'])
      expect(refusedAddress('x', ip, dev)).toMatch(/link-local, metadata or reserved/);
    expect(refusedAddress('x', '::ffff:5db8:d822', strict)).toBeUndefined();
  });

  test('`::` is refused, `::1` is loopback, a zone does not hide a link-local address', () => {
    expect(refusedAddress('x', '::', dev)).toMatch(/reserved/);
    expect(refusedAddress('x', '::1', strict)).toMatch(/loopback or private/);
    expect(refusedAddress('x', '::1', dev)).toBeUndefined();
    expect(refusedAddress('x', 'fe80::1%eth0', dev)).toMatch(/link-local/);
  });
});

describe('policyLookup: the connection re-checks every resolved address', () => {
  const lookup = (policy: UrlPolicy, host: string) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      policyLookup(policy)(host, {}, (err, address) => resolve({ err, address })),
    );

  test('localhost resolves and is refused under the strict policy, allowed in development', async () => {
    const refused = await lookup(strict, 'localhost');
    expect(refused.err).toMatchObject({ code: 'ERR_ADDRESS_REFUSED' });
    expect(refused.err?.message).toMatch(/^refused by the notification policy: address .* is loopback/);
    const allowed = await lookup(dev, 'localhost');
    expect(allowed.err).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(allowed.address);
  });
});
