import type { PaybyAccount } from './payby/options';
import type { UnifiedAccount } from './unified/options';
import type { HttpTimeouts } from './http';
import { accountTimeouts } from './options';
import { createPaybyAdapter } from './payby/adapter';
import type { ProviderAdapter } from './types';
import { createUnifiedAdapter } from './unified/adapter';

export type * from './types';

/** A provider account as configured (credentials resolved): one of the protocols' own options. */
export type AccountConfig = PaybyAccount | UnifiedAccount;

/** The adapter for an account's protocol. The account union is closed: a new provider is a compile error here. */
export function createAdapter(account: AccountConfig, timeouts?: HttpTimeouts): ProviderAdapter {
  timeouts ??= accountTimeouts(account);
  switch (account.provider) {
    case 'payby':
      return createPaybyAdapter(account, timeouts);
    case 'unified':
      return createUnifiedAdapter(account, timeouts);
  }
}
