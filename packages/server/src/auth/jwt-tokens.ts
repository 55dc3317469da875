import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import type {KeyObject} from 'node:crypto';

import type {TokenInfo, TokenProvider} from './token-provider.js';

/** The signing methods etcd accepts for `--auth-token=jwt,sign-method=...`. */
export const jwtSignMethods = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
] as const;
export type JwtSignMethod = (typeof jwtSignMethods)[number];

/** Key material for {@link JwtTokens}: PEM keys, or the secret itself for HS methods. */
export interface JwtKeys {
  readonly signMethod: JwtSignMethod;
  /** PEM private key (the secret for HS*); without it the member only verifies. */
  readonly privateKey: Buffer | undefined;
  /** PEM public key; derived from the private key when absent. */
  readonly publicKey: Buffer | undefined;
  readonly ttlMs: number;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function digestOf(method: JwtSignMethod): string | null {
  if (method === 'EdDSA') return null;
  return `sha${method.slice(2)}`;
}

/**
 * etcd's JWT tokens (`--auth-token=jwt,...`): signed claims `{username, revision,
 * exp}` that any member holding the public key can check without state. A token
 * carries the auth revision it was issued at, so any change to users, roles or
 * permissions makes it stale ("revision of auth store is old") and clients
 * authenticate again. Tokens cannot be revoked before `exp`; deleting a user
 * makes its tokens useless because the user no longer exists.
 */
export class JwtTokens implements TokenProvider {
  private readonly privateKey: KeyObject | Buffer | undefined;
  private readonly publicKey: KeyObject | Buffer;
  private readonly header: string;

  constructor(
    private readonly keys: JwtKeys,
    private readonly nowMs: () => number = Date.now,
  ) {
    const hmac = keys.signMethod.startsWith('HS');
    if (hmac) {
      const secret = keys.privateKey ?? keys.publicKey;
      if (secret === undefined) throw new Error('an HS sign method needs priv-key');
      this.privateKey = secret;
      this.publicKey = secret;
    } else {
      const priv = keys.privateKey === undefined ? undefined : createPrivateKey(keys.privateKey);
      this.privateKey = priv;
      if (keys.publicKey !== undefined) this.publicKey = createPublicKey(keys.publicKey);
      else if (priv !== undefined) this.publicKey = createPublicKey(priv);
      else throw new Error('jwt needs pub-key or priv-key');
    }
    this.header = b64url(JSON.stringify({alg: keys.signMethod, typ: 'JWT'}));
  }

  issuedAt(token: string): number | undefined {
    return token.split('.').length === 3 ? 0 : undefined;
  }

  assign(username: string, revision: bigint, _index: number, _nonce: string): string {
    if (this.privateKey === undefined) {
      throw new Error('this member has no jwt private key and cannot issue tokens');
    }
    const exp = Math.floor((this.nowMs() + this.keys.ttlMs) / 1000);
    const payload = b64url(JSON.stringify({username, revision: Number(revision), exp}));
    const signed = `${this.header}.${payload}`;
    return `${signed}.${this.signature(signed).toString('base64url')}`;
  }

  info(token: string, _revision: bigint): TokenInfo | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, sig] = parts as [string, string, string];
    let claims: unknown;
    try {
      const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as {alg?: unknown};
      if (h.alg !== this.keys.signMethod) return undefined;
      if (!this.verifies(`${header}.${payload}`, Buffer.from(sig, 'base64url'))) return undefined;
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof claims !== 'object' || claims === null) return undefined;
    const {username, revision, exp} = claims as Record<string, unknown>;
    if (typeof username !== 'string' || typeof revision !== 'number') return undefined;
    if (typeof exp === 'number' && exp * 1000 <= this.nowMs()) return undefined;
    if (!Number.isSafeInteger(revision) || revision < 0) return undefined;
    return {username, revision: BigInt(revision)};
  }

  invalidateUser(): void {
    // A JWT stays valid until it expires; checks fail once its user is gone.
  }

  clear(): void {
    // Nothing is kept per token.
  }

  close(): void {
    // Nothing to release.
  }

  private signature(data: string): Buffer {
    const method = this.keys.signMethod;
    const key = this.privateKey;
    if (key === undefined) throw new Error('no private key');
    if (Buffer.isBuffer(key))
      return createHmac(`sha${method.slice(2)}`, key)
        .update(data)
        .digest();
    return sign(digestOf(method), Buffer.from(data), this.keyOptions(key));
  }

  private verifies(data: string, sig: Buffer): boolean {
    const method = this.keys.signMethod;
    const key = this.publicKey;
    if (Buffer.isBuffer(key)) {
      const expected = createHmac(`sha${method.slice(2)}`, key)
        .update(data)
        .digest();
      return expected.length === sig.length && timingSafeEqual(expected, sig);
    }
    return verify(digestOf(method), Buffer.from(data), this.keyOptions(key), sig);
  }

  private keyOptions(key: KeyObject) {
    const method = this.keys.signMethod;
    if (method.startsWith('PS')) {
      return {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      };
    }
    if (method.startsWith('ES')) return {key, dsaEncoding: 'ieee-p1363' as const};
    return {key};
  }
}
