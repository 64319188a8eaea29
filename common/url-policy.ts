import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where notifications may go. Only http(s); link-local, cloud metadata, reserved and translation
 * addresses are always refused; loopback and private networks only when `allowPrivateNetworks`
 * (development) or when the host is listed in `allowHosts`; a non-empty `allowHosts` (names,
 * `*.suffix`, CIDRs) is exclusive. The check runs again inside the connection's own DNS lookup, so a
 * name cannot be re-pointed between the check and the request.
 */
export interface UrlPolicy {
  allowHosts: string[];
  allowPrivateNetworks: boolean;
}

const ALWAYS_REFUSED = new BlockList();
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, incl. 169.254.169.254 metadata
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
ALWAYS_REFUSED.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
ALWAYS_REFUSED.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network"; 0.0.0.0 reaches the local host
ALWAYS_REFUSED.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
ALWAYS_REFUSED.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, incl. 255.255.255.255
ALWAYS_REFUSED.addSubnet('198.18.0.0', 15, 'ipv4'); // benchmarking
// IPv4-compatible (deprecated) and `::` itself, which reaches the local host like 0.0.0.0; `::1` is
// in this prefix too but is loopback, decided below as private.
ALWAYS_REFUSED.addSubnet('::', 96, 'ipv6');
ALWAYS_REFUSED.addSubnet('::ffff:0:0:0', 96, 'ipv6'); // IPv4-translated (SIIT)
ALWAYS_REFUSED.addSubnet('64:ff9b::', 96, 'ipv6'); // NAT64: the gateway may reach any IPv4, private too
ALWAYS_REFUSED.addSubnet('64:ff9b:1::', 48, 'ipv6'); // local-use NAT64
ALWAYS_REFUSED.addSubnet('ff00::', 8, 'ipv6'); // multicast

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fec0::', 10, 'ipv6'); // site-local (deprecated)

/** Host names that reach cloud metadata services: refused whatever the policy says. */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

type Family = 'ipv4' | 'ipv6';

interface Address {
  ip: string;
  family: Family;
}

/**
 * An address in the form the lists are checked in: IPv6 in canonical form without a zone, and an
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, or `::ffff:7f00:1` as URL parsing writes it) as
 * the IPv4 address it is.
 */
function normalise(ip: string): Address {
  if (isIP(ip) === 4) return { ip, family: 'ipv4' };
  const bare = ip.replace(/%.*$/, '').toLowerCase();
  let canonical = bare;
  try {
    canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    // Not an IPv6 literal URL parsing accepts: checked as given.
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return { ip: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' };
  }
  return { ip: canonical, family: 'ipv6' };
}

function family(ip: string): Family {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

/** A host name without the trailing dot of a fully qualified name, lower case. */
function bareName(host: string): string {
  return host.toLowerCase().replace(/\.+$/, '');
}

function hostListed(host: string, policy: UrlPolicy): boolean {
  const h = bareName(host);
  return policy.allowHosts.some((entry) => {
    const e = bareName(entry);
    if (e.startsWith('*.')) return h.endsWith(e.slice(1));
    return !e.includes('/') && e === h;
  });
}

/** The allowHosts entries that are addresses or networks rather than names. */
function hasAddressEntries(policy: UrlPolicy): boolean {
  return policy.allowHosts.some((entry) => isIP(entry) !== 0 || isIP(entry.split('/')[0] ?? '') !== 0);
}

function addressListed(address: Address, policy: UrlPolicy): boolean {
  const list = new BlockList();
  let any = false;
  for (const entry of policy.allowHosts) {
    const [net, bits] = entry.split('/');
    try {
      if (bits && net && isIP(net)) {
        list.addSubnet(net, Number(bits), family(net));
        any = true;
      } else if (isIP(entry)) {
        list.addAddress(entry, family(entry));
        any = true;
      }
    } catch {
      // A prefix length out of range lists nothing (config is not request input; never throw here).
    }
  }
  return any && list.check(address.ip, address.family);
}

/** Why an address may not be contacted for `host`, or undefined when it may. */
export function refusedAddress(host: string, ip: string, policy: UrlPolicy): string | undefined {
  const address = normalise(ip);
  if (address.ip !== '::1' && ALWAYS_REFUSED.check(address.ip, address.family))
    return `address ${ip} is link-local, metadata or reserved`;
  const listed = hostListed(host, policy) || addressListed(address, policy);
  if (policy.allowHosts.length > 0 && !listed) return `host ${host} is not in notifications.allowHosts`;
  if (PRIVATE.check(address.ip, address.family) && !listed && !policy.allowPrivateNetworks)
    return `address ${ip} is loopback or private (notifications.allowPrivateNetworks is off)`;
  return undefined;
}

/**
 * Why a host name may not be contacted, as far as the name alone tells; its addresses are checked
 * at lookup time. `localhost` names are loopback by definition (RFC 6761), metadata names always
 * refused, and an unlisted name refused when allowHosts has no network it could resolve into.
 */
function refusedName(host: string, policy: UrlPolicy): string | undefined {
  const name = bareName(host);
  if (METADATA_NAMES.has(name)) return `host ${host} is a cloud metadata service`;
  const listed = hostListed(host, policy);
  if ((name === 'localhost' || name.endsWith('.localhost')) && !listed && !policy.allowPrivateNetworks)
    return `host ${host} is loopback (notifications.allowPrivateNetworks is off)`;
  if (policy.allowHosts.length > 0 && !listed && !hasAddressEntries(policy))
    return `host ${host} is not in notifications.allowHosts`;
  return undefined;
}

/**
 * Checks a URL's form and its host: an IP literal's address, a name as far as the name tells (a
 * name may still resolve into a listed network: decided at lookup).
 */
export function checkUrl(
  raw: string,
  policy: UrlPolicy,
): { ok: true; url: URL } | { ok: false; reason: string } {
  // URL parsing silently drops tabs and newlines and trims spaces: refuse rather than guess.
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(raw))
    return { ok: false, reason: 'must not contain spaces or control characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an http(s) URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `must be an http(s) URL, not ${url.protocol}` };
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not allowed' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const reason = isIP(host) ? refusedAddress(host, host, policy) : refusedName(host, policy);
  return reason ? { ok: false, reason } : { ok: true, url };
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `dns.lookup` for got that refuses every address the policy forbids. */
export function policyLookup(policy: UrlPolicy) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    const all = { ...options, all: true } as LookupAllOptions;
    dnsLookup(hostname, all, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const reason = refusedAddress(hostname, a.address, policy);
        if (reason) {
          const refused = Object.assign(new Error(`refused by the notification policy: ${reason}`), {
            code: 'ERR_ADDRESS_REFUSED',
          });
          return callback(refused, []);
        }
      }
      if ((options as { all?: boolean }).all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };
}
