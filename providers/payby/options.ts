import { z } from 'zod';
import { secretRef, type WithSecrets } from '../../common/secret-ref';
import { accountId, accountLimits, httpUrl } from '../options';

export const PAYBY = 'payby';

/** A PayBy account in the config file (seed 002): the partner id, our signing key, PayBy's key. */
export const paybyOptionsSchema = z
  .object({
    id: accountId,
    provider: z.literal(PAYBY),
    baseUrl: httpUrl,
    partnerId: z.string().regex(/^\d{1,12}$/, 'must be 1-12 digits'),
    privateKey: secretRef,
    providerPublicKey: secretRef,
    ...accountLimits,
  })
  .strict();

export type PaybyOptions = z.output<typeof paybyOptionsSchema>;

/** A PayBy account with its keys resolved: what the adapters take. */
export type PaybyAccount = WithSecrets<PaybyOptions, 'privateKey' | 'providerPublicKey'>;
