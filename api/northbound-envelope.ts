/** The northbound envelope: answer codes, refusals, request verification, errors mapped to answers. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig, Config } from '../common/config';
import { countApiRequest } from '../common/metrics';
import { ProtocolError, readParams, reqTimeMs, type FieldRules } from '../providers/unified/protocol';
import { md5Sign, verifyEnvelope } from '../providers/unified/sign';

/** Answer codes (also in the README). */
export const CODES = {
  OK: 0,
  BAD_BODY: 1001,
  BAD_FIELD: 1002,
  UNKNOWN_APP: 1003,
  BAD_SIGN: 1004,
  STALE_REQ_TIME: 1005,
  NOT_FOUND: 1006,
  TOO_MANY_REQUESTS: 1007,
  BODY_TOO_LARGE: 1008,
  UNAVAILABLE: 9999,
} as const;

const HTTP_STATUS: Record<number, number> = {
  [CODES.OK]: 200,
  [CODES.BAD_BODY]: 400,
  [CODES.BAD_FIELD]: 400,
  [CODES.UNKNOWN_APP]: 403,
  [CODES.BAD_SIGN]: 401,
  [CODES.STALE_REQ_TIME]: 400,
  [CODES.NOT_FOUND]: 404,
  [CODES.TOO_MANY_REQUESTS]: 429,
  [CODES.BODY_TOO_LARGE]: 413,
  [CODES.UNAVAILABLE]: 503,
};

export class Refusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Every answer on `app` in the envelope: Fastify's own errors mapped to codes, and the `handle`
 * returned, which verifies a request before its route's body runs and maps its refusals.
 * `signedAnswers`: the signatures of kept answers, by identity.
 */
export function northboundEnvelope(
  app: FastifyInstance,
  config: Config,
  signedAnswers: WeakMap<Record<string, unknown>, string>,
) {
  const send = (
    reply: FastifyReply,
    route: string,
    code: number,
    msg: string,
    data?: Record<string, unknown>,
    key?: string,
  ) => {
    countApiRequest(route, code);
    const body: Record<string, unknown> = { code, msg };
    if (data && key) {
      body.data = data;
      body.sign = signedAnswers.get(data) ?? md5Sign(data, key);
    }
    return reply.code(HTTP_STATUS[code] ?? 400).send(body);
  };

  // Errors Fastify raises before our handler (content type, body size, rate limit) in the same shape.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    // The route's pattern, never the URL: a metric series (and its cached child) per URL would grow without bound.
    const route = req.routeOptions.url ?? 'unmatched';
    if (err.statusCode === 413)
      return send(reply, route, CODES.BODY_TOO_LARGE, `body larger than ${config.api.bodyLimitBytes} bytes`);
    if (err.statusCode === 415)
      return send(
        reply,
        route,
        CODES.BAD_BODY,
        'Content-Type must be application/json or application/x-www-form-urlencoded',
      );
    if (err.statusCode === 429)
      return send(reply, route, CODES.TOO_MANY_REQUESTS, 'too many requests, retry later');
    if (err.statusCode && err.statusCode < 500) return send(reply, route, CODES.BAD_BODY, err.message);
    req.log.error({ err }, 'northbound request failed');
    return send(reply, route, CODES.UNAVAILABLE, 'temporarily unavailable, retry later');
  });

  /** Fields, app, signature and freshness: everything that must hold before anything happens. */
  const authenticate = (
    req: FastifyRequest,
    rules: FieldRules,
  ): { params: Record<string, string>; app: AppConfig } => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const params = readParams(raw, req.headers['content-type'], rules);
    const app = config.apps.find((a) => a.mchNo === params.mchNo && a.appId === params.appId);
    if (!app)
      throw new Refusal(CODES.UNKNOWN_APP, `unknown app: mchNo ${params.mchNo} has no appId ${params.appId}`);
    if (!verifyEnvelope(params, app.key.reveal()))
      throw new Refusal(CODES.BAD_SIGN, 'signature verification failed');
    const reqTime = reqTimeMs(params.reqTime!);
    const skew = Math.abs(Date.now() - reqTime);
    if (skew > config.api.reqTimeWindowSeconds * 1000)
      throw new Refusal(
        CODES.STALE_REQ_TIME,
        `reqTime is ${Math.round(skew / 1000)} s away from our clock (allowed ±${config.api.reqTimeWindowSeconds} s)`,
      );
    return { params, app };
  };

  const handle =
    (
      route: string,
      rules: FieldRules,
      fn: (params: Record<string, string>, app: AppConfig) => Promise<Record<string, unknown>>,
    ) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const auth = authenticate(req, rules);
        const data = await fn(auth.params, auth.app);
        return send(reply, route, CODES.OK, 'SUCCESS', data, auth.app.key.reveal());
      } catch (err) {
        if (err instanceof Refusal) return send(reply, route, err.code, err.message);
        if (err instanceof ProtocolError) return send(reply, route, CODES[err.code], err.message);
        throw err;
      }
    };

  return handle;
}
