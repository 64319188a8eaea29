import { z } from 'zod';
import { secretRef, type WithSecrets } from '../../common/secret-ref';
import { accountId, accountLimits, httpUrl } from '../options';
import { CANCEL_REQUEST_FIELDS } from './protocol';

export const UNIFIED = 'unified';

/** Seed 000's merchant number and app id, as an account or a calling app names them. */
export const mchNo = z.string().min(1).max(CANCEL_REQUEST_FIELDS.mchNo.max);
export const appId = z.string().min(1).max(CANCEL_REQUEST_FIELDS.appId.max);

/** An upstream gateway that speaks seed 000: our merchant number, app id and MD5 key there. */
export const unifiedOptionsSchema = z
  .object({
    id: accountId,
    provider: z.literal(UNIFIED),
    baseUrl: httpUrl,
    mchNo,
    appId,
    key: secretRef,
    ...accountLimits,
  })
  .strict();

export type UnifiedOptions = z.output<typeof unifiedOptionsSchema>;

/** A Unified account with its key resolved: what the adapter takes. */
export type UnifiedAccount = WithSecrets<UnifiedOptions, 'key'>;
