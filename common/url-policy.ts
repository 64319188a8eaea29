import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where notifications may go. Only http(s); link-local and cloud metadata addresses are always
 * refused; loopback and private networks only when `allowPrivateNetworks` (development) or when the
 * host is listed in `allowHosts`; a non-empty `allowHosts` (names, `*.suffix`, CIDRs) is exclusive.
 * The check runs again inside the connection's own DNS lookup, so a name cannot be re-pointed
 * between the check and the request.
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
ALWAYS_REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_REFUSED.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

function family(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

function hostListed(host: string, policy: UrlPolicy): boolean {
  const h = host.toLowerCase();
  return policy.allowHosts.some((entry) => {
    const e = entry.toLowerCase();
    if (e.startsWith('*.')) return h.endsWith(e.slice(1));
    return !e.includes('/') && e === h;
  });
}

function addressListed(ip: string, policy: UrlPolicy): boolean {
  const list = new BlockList();
  let any = false;
  for (const entry of policy.allowHosts) {
    const [net, bits] = entry.split('/');
    if (bits && net && isIP(net)) {
      list.addSubnet(net, Number(bits), family(net));
      any = true;
    } else if (isIP(entry)) {
      list.addAddress(entry, family(entry));
      any = true;
    }
  }
  return any && list.check(ip, family(ip));
}

/** Why an address may not be contacted for `host`, or undefined when it may. */
export function refusedAddress(host: string, ip: string, policy: UrlPolicy): string | undefined {
  const unwrapped = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const fam = family(unwrapped);
  if (ALWAYS_REFUSED.check(unwrapped, fam)) return `address ${ip} is link-local, metadata or reserved`;
  const listed = hostListed(host, policy) || addressListed(unwrapped, policy);
  if (policy.allowHosts.length > 0 && !listed) return `host ${host} is not in notifications.allowHosts`;
  if (PRIVATE.check(unwrapped, fam) && !listed && !policy.allowPrivateNetworks)
    return `address ${ip} is loopback or private (notifications.allowPrivateNetworks is off)`;
  return undefined;
}

/** Checks a URL's form and, for an IP literal, its address. Names are checked at lookup time. */
export function checkUrl(
  raw: string,
  policy: UrlPolicy,
): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `scheme ${url.protocol} is not http or https` };
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not allowed' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const reason = refusedAddress(host, host, policy);
    if (reason) return { ok: false, reason };
  } else if (policy.allowHosts.length > 0 && !hostListed(host, policy)) {
    // A name that is not listed may still resolve into a listed network: decided at lookup.
  }
  return { ok: true, url };
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
