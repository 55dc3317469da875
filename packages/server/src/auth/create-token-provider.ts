import {readFileSync} from 'node:fs';

import type {MemberConfig} from '../config/member-config.js';
import {JwtTokens} from './jwt-tokens.js';
import {SimpleTokens} from './simple-tokens.js';
import type {TokenProvider} from './token-provider.js';

/** The token provider `--auth-token` names, with its key files read. */
export function createTokenProvider(config: MemberConfig): TokenProvider {
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
