import {readFileSync} from 'node:fs';

import type {JwtSignMethod} from './jwt-tokens.js';
import {JwtTokens} from './jwt-tokens.js';
import {SimpleTokens} from './simple-tokens.js';
import type {TokenProvider} from './token-provider.js';

/**
 * `simple` tokens, or `jwt,pub-key=<file>,priv-key=<file>,sign-method=<method>,ttl=<duration>`
 * as etcd takes them (ttl defaults to 5m; one of the keys may be left out).
 */
export type AuthTokenConfig =
  | {readonly kind: 'simple'}
  | {
      readonly kind: 'jwt';
      readonly signMethod: JwtSignMethod;
      readonly publicKeyFile: string | undefined;
      readonly privateKeyFile: string | undefined;
      readonly ttlMs: number;
    };

/** The token provider `--auth-token` names, with its key files read. */
export function createTokenProvider(config: {
  readonly authToken: AuthTokenConfig;
  readonly authTokenTtlSeconds: number;
}): TokenProvider {
  const t = config.authToken;
  if (t.kind === 'simple') return new SimpleTokens(config.authTokenTtlSeconds * 1000);
  const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file));
  return new JwtTokens({
    signMethod: t.signMethod,
    privateKey: read(t.privateKeyFile),
    publicKey: read(t.publicKeyFile),
    ttlMs: t.ttlMs,
  });
}
