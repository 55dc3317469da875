import {generateKeyPairSync} from 'node:crypto';

import {describe, expect, it} from 'vitest';

import {JwtTokens} from './jwt-tokens.js';

const spki = {type: 'spki', format: 'pem'} as const;
const pkcs8 = {type: 'pkcs8', format: 'pem'} as const;

function toBuffers(pair: {privateKey: string; publicKey: string}) {
  return {privateKey: Buffer.from(pair.privateKey), publicKey: Buffer.from(pair.publicKey)};
}

function pemPair(type: 'rsa' | 'ec' | 'ed25519'): {privateKey: Buffer; publicKey: Buffer} {
  if (type === 'rsa') {
    return toBuffers(
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: spki,
        privateKeyEncoding: pkcs8,
      }),
    );
  }
  if (type === 'ec') {
    return toBuffers(
      generateKeyPairSync('ec', {
        namedCurve: 'P-256',
        publicKeyEncoding: spki,
        privateKeyEncoding: pkcs8,
      }),
    );
  }
  return toBuffers(
    generateKeyPairSync('ed25519', {publicKeyEncoding: spki, privateKeyEncoding: pkcs8}),
  );
}

const rsa = pemPair('rsa');
const ec = pemPair('ec');
const ed = pemPair('ed25519');

describe('JWT tokens', () => {
  it.each([
    ['RS256', rsa],
    ['PS256', rsa],
    ['ES256', ec],
    ['EdDSA', ed],
    ['HS256', {privateKey: Buffer.from('shared secret'), publicKey: undefined}],
  ] as const)('issues %s tokens that a member with only the public key accepts', (method, keys) => {
    const issuer = new JwtTokens({signMethod: method, ...keys, ttlMs: 60_000});
    const token = issuer.assign('alice', 7n, 12, 'ignored');
    expect(issuer.issuedAt(token)).toBe(0);
    const checker = method.startsWith('HS')
      ? issuer
      : new JwtTokens({
          signMethod: method,
          privateKey: undefined,
          publicKey: keys.publicKey,
          ttlMs: 60_000,
        });
    expect(checker.info(token, 99n)).toEqual({username: 'alice', revision: 7n});
  });

  it('refuses a tampered, foreign, expired or malformed token', () => {
    let now = 1_000_000;
    const tokens = new JwtTokens({signMethod: 'RS256', ...rsa, ttlMs: 4000}, () => now);
    const token = tokens.assign('alice', 3n, 1, '');
    const [h, , s] = token.split('.');
    const forgedClaims = Buffer.from(JSON.stringify({username: 'root', revision: 3, exp: 9e9}));
    expect(tokens.info(`${h}.${forgedClaims.toString('base64url')}.${s}`, 3n)).toBeUndefined();
    const other = new JwtTokens({signMethod: 'RS256', ...pemPair('rsa'), ttlMs: 4000}, () => now);
    expect(other.info(token, 3n)).toBeUndefined();
    expect(tokens.issuedAt('abcdefghijklmnop.12')).toBeUndefined();
    expect(tokens.info('not.a.jwt', 3n)).toBeUndefined();
    now += 3000;
    expect(tokens.info(token, 3n)?.username).toBe('alice');
    now += 1000;
    expect(tokens.info(token, 3n)).toBeUndefined();
  });
});
