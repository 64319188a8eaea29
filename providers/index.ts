import type { AccountConfig } from '../common/config';
import type { HttpTimeouts } from './http';
import { createPaybyAdapter } from './payby/adapter';
import type { ProviderAdapter } from './types';
import { createUnifiedAdapter } from './unified/adapter';

export type * from './types';

/** The adapter for an account's protocol. The account union is closed: a new provider is a compile error here. */
export function createAdapter(account: AccountConfig, timeouts?: HttpTimeouts): ProviderAdapter {
  switch (account.provider) {
    case 'payby':
      return createPaybyAdapter(account, timeouts);
    case 'unified':
      return createUnifiedAdapter(account, timeouts);
  }
}
