import { signEnvelope } from '../../providers/unified/sign';

/**
 * A merchant system's side of seed 000: signs a request with its app key and POSTs it to
 * cancelflow's northbound API (JSON or form), keeping the raw answer. Shared by the multi-process
 * integration test and the chaos run.
 */

export interface MerchantApp {
  name: string;
  mchNo: string;
  appId: string;
  key: string;
  /** The environment variable the services read the key from (the config names it). */
  keyEnv: string;
  account: string;
}

export interface Answer {
  status: number;
  json?: { code: number; msg: string; data?: Record<string, unknown>; sign?: string };
  text: string;
  error?: string;
}

/** The request's fields plus mchNo, appId, reqTime (now), version, signType and the MD5 sign. */
export function signed(
  app: Pick<MerchantApp, 'mchNo' | 'appId' | 'key'>,
  fields: Record<string, string>,
): Record<string, string | number> {
  // reqTime as a JSON number, as many merchants send it.
  return signEnvelope(app, app.key, { reqTime: Date.now(), ...fields });
}

/** POSTs `params` to `base + route`; a transport failure is an answer with status 0 and `error`. */
export async function post(
  base: string,
  route: string,
  params: Record<string, string | number>,
  form = false,
  timeoutMs = 60_000,
): Promise<Answer> {
  try {
    const res = await fetch(`${base}${route}`, {
      method: 'POST',
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form
        ? new URLSearchParams(
            Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
          ).toString()
        : JSON.stringify(params),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: Answer['json'];
    try {
      json = JSON.parse(text) as Answer['json'];
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  } catch (err) {
    return { status: 0, text: '', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

/** `fn` over `items` with at most `limit` in flight; results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}
