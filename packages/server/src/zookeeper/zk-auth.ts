import {createHash} from 'node:crypto';

import type {ZkAcl} from '@synod/proto/synodpb';

import {ZkProtocol} from '@synod/proto';

import {isValidX500Name} from './x509-name.js';

/** One identity of a connection (ZooKeeper's `Id`): `ip:127.0.0.1`, `digest:alice:<hash>`, `super:`. */
export interface ZkAuthId {
  readonly scheme: string;
  readonly id: string;
}

/** Why {@link ZkAuth.fixupAcl} refused an ACL list. */
export const INVALID_ACL = 'invalidACL';

/**
 * ZooKeeper 3.8's built-in authentication without TLS or SASL: the `world`, `ip` and `digest`
 * providers, the `auth` pseudo-scheme and the super user. Pure functions of their arguments,
 * so the check a member makes at apply time depends on the replicated request alone.
 *
 * Worked example: `addauth digest alice:secret` gives the connection the id
 * `digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=`; a create with the ACL `auth::cdrwa` stores
 * `digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=:cdrwa`, and a getData of that node by a
 * connection holding that id passes READ.
 */
export const ZkAuth = {
  /** `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1(user:password))`. */
  digestId(userColonPassword: string): string {
    const colon = userColonPassword.indexOf(':');
    const user = colon === -1 ? userColonPassword : userColonPassword.slice(0, colon);
    return `${user}:${createHash('sha1').update(userColonPassword, 'utf8').digest('base64')}`;
  },

  /**
   * The ids `addauth <scheme> <auth>` adds to a connection from `remoteIp`, or undefined
   * for AuthFailed (a scheme with no provider: without SASL, ZooKeeper knows `ip`, `digest`
   * and, once a secure port is configured, `x509`). The super user gets `super:` before its
   * digest id, as ZooKeeper's digest provider adds it. `addauth x509` ignores its argument
   * and gives again the ids of the connection's client certificate (`certificateIds`, from
   * {@link ZkAuth.x509Ids}); without one it fails.
   */
  authenticate(
    scheme: string,
    auth: Buffer,
    remoteIp: string,
    superDigest: string | undefined,
    certificateIds: readonly ZkAuthId[] = [],
  ): ZkAuthId[] | undefined {
    if (scheme === 'ip') return [{scheme: 'ip', id: remoteIp}];
    if (scheme === 'x509') return certificateIds.length === 0 ? undefined : [...certificateIds];
    if (scheme !== 'digest') return undefined;
    const id = ZkAuth.digestId(auth.toString('utf8'));
    return id === superDigest
      ? [
          {scheme: 'super', id: ''},
          {scheme, id},
        ]
      : [{scheme, id}];
  },

  /**
   * `X509AuthenticationProvider.handleAuthentication`: the ids of a TLS connection whose
   * client certificate has the subject `subjectName` (see `x509SubjectName`): `x509:<name>`,
   * after `super:<name>` when it is the x509 super user
   * (`zookeeper.X509AuthenticationProvider.superUser`, Synod's `--zk-x509-superuser`).
   */
  x509Ids(subjectName: string, superUser: string | undefined): ZkAuthId[] {
    const id: ZkAuthId = {scheme: 'x509', id: subjectName};
    return subjectName === superUser ? [{scheme: 'super', id: subjectName}, id] : [id];
  },

  /**
   * ZooKeeper's `PrepRequestProcessor.fixupACL`: duplicates go, `auth` becomes the connection's
   * authenticated (digest) ids, and an empty list, an unknown scheme, an id its provider
   * rejects, or `auth` without an authenticated id is InvalidACL. `x509Provider` tells whether
   * the cluster has ZooKeeper's x509 provider (a scheme with no provider is InvalidACL); it is
   * asked only of an ACL with an `x509` entry, and x509 is known when it is not given.
   */
  fixupAcl(
    acl: readonly ZkAcl[],
    ids: readonly ZkAuthId[],
    x509Provider: () => boolean = () => true,
  ): ZkAcl[] | typeof INVALID_ACL {
    const unique: ZkAcl[] = [];
    for (const a of acl) {
      if (!unique.some(u => u.perms === a.perms && u.scheme === a.scheme && u.id === a.id)) {
        unique.push(a);
      }
    }
    if (unique.length === 0) return INVALID_ACL;
    const fixed: ZkAcl[] = [];
    for (const a of unique) {
      if (a.scheme === 'world' && a.id === 'anyone') {
        fixed.push(a);
      } else if (a.scheme === 'auth') {
        // Only the digest and x509 providers are "authenticated"; ip is not and super has
        // no provider.
        const authenticated = ids.filter(x => x.scheme === 'digest' || x.scheme === 'x509');
        if (authenticated.length === 0) return INVALID_ACL;
        for (const x of authenticated) fixed.push({perms: a.perms, scheme: x.scheme, id: x.id});
      } else {
        if (a.scheme === 'x509' && !x509Provider()) return INVALID_ACL;
        if (!isValidId(a.scheme, a.id)) return INVALID_ACL;
        fixed.push(a);
      }
    }
    return fixed;
  },

  /**
   * `ZooKeeperServer.checkACL`: whether `ids` may do `perm` on a node with `acl`. An empty
   * ACL allows everything; `super` passes every check; otherwise some entry granting `perm`
   * must be `world:anyone` or match one of the ids through its scheme's provider.
   */
  allows(acl: readonly ZkAcl[], perm: number, ids: readonly ZkAuthId[]): boolean {
    if (acl.length === 0) return true;
    if (ids.some(x => x.scheme === 'super')) return true;
    for (const a of acl) {
      if ((a.perms & perm) === 0) continue;
      if (a.scheme === 'world' && a.id === 'anyone') return true;
      for (const x of ids) {
        if (x.scheme !== a.scheme) continue;
        if ((a.scheme === 'digest' || a.scheme === 'x509') && x.id === a.id) return true;
        if (a.scheme === 'ip' && ipMatches(x.id, a.id)) return true;
      }
    }
    return false;
  },

  /** getACL without ADMIN: digest ids lose their hash (`alice:x`), as ZooKeeper 3.8 hides them. */
  redactDigests(acl: readonly ZkAcl[]): ZkAcl[] {
    // Java's `id.replaceAll(":.*", ":x")`.
    return acl.map(a => (a.scheme === 'digest' ? {...a, id: a.id.replace(/:.*/g, ':x')} : a));
  },

  /**
   * The connection's ids in the order ZooKeeper 3.8.0 lists them (`whoAmI`, and the expansion
   * of `auth`): its ids live in a `java.util.HashSet`, whose iteration order is by hash bucket,
   * then by insertion within a bucket. Duplicates are dropped, as the set drops them.
   */
  inJavaSetOrder(ids: readonly ZkAuthId[]): ZkAuthId[] {
    const unique: ZkAuthId[] = [];
    for (const x of ids) {
      if (!unique.some(u => u.scheme === x.scheme && u.id === x.id)) unique.push(x);
    }
    let buckets = 16;
    while (unique.length > buckets * 0.75) buckets *= 2;
    const bucket = (x: ZkAuthId): number => {
      // jute's generated Id.hashCode, then HashMap's spread of the high bits.
      const h = (Math.imul(37, Math.imul(37, 17) + javaHash(x.scheme)) + javaHash(x.id)) | 0;
      return (h ^ (h >>> 16)) & (buckets - 1);
    };
    return unique
      .map((x, i) => ({x, i, b: bucket(x)}))
      .sort((p, q) => p.b - q.b || p.i - q.i)
      .map(p => p.x);
  },

  /**
   * `whoAmI`'s user for an id: the digest user alone, '' for `super` (no provider names it),
   * the id itself for other schemes.
   */
  userOf(x: ZkAuthId): string {
    if (x.scheme === 'super') return '';
    if (x.scheme !== 'digest') return x.id;
    const colon = x.id.indexOf(':');
    return colon === -1 ? x.id : x.id.slice(0, colon);
  },

  perms: ZkProtocol.perms,
} as const;

/** Whether ZooKeeper 3.8's provider for `scheme` accepts `id` (`isValid`); no provider: false. */
function isValidId(scheme: string, id: string): boolean {
  switch (scheme) {
    case 'digest':
      return javaSplit(id, ':').length === 2;
    case 'ip':
      return parseIpAcl(id) !== undefined;
    case 'x509':
      // Whether the provider exists is asked first (see fixupAcl).
      return isValidX500Name(id);
    default:
      // sasl exists only when configured, and it is not here.
      return false;
  }
}

/** `IPAuthenticationProvider.matches`: the connection's address falls in the ACL's block. */
function ipMatches(remote: string, aclExpr: string): boolean {
  const acl = parseIpAcl(aclExpr);
  const addr = ipv4(remote.startsWith('::ffff:') ? remote.slice(7) : remote);
  if (acl === undefined || addr === undefined) return false;
  const mask = acl.bits === 0 ? 0 : (~0 << (32 - acl.bits)) >>> 0;
  return (addr & mask) >>> 0 === (acl.addr & mask) >>> 0;
}

/** `a.b.c.d` or `a.b.c.d/bits`, as ZooKeeper 3.8 accepts them (IPv4 only). */
function parseIpAcl(expr: string): {addr: number; bits: number} | undefined {
  const slash = expr.indexOf('/');
  const addr = ipv4(slash === -1 ? expr : expr.slice(0, slash));
  if (addr === undefined) return undefined;
  if (slash === -1) return {addr, bits: 32};
  const bits = javaParseInt(expr.slice(slash + 1));
  if (bits === undefined || bits < 0 || bits > 32) return undefined;
  return {addr, bits};
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    const v = javaParseInt(p);
    if (v === undefined || v < 0 || v > 255) return undefined;
    value = value * 256 + v;
  }
  return value;
}

/** Java's `Integer.parseInt`: an optional sign and decimal digits, nothing else. */
function javaParseInt(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const v = Number(text);
  return v > 2147483647 || v < -2147483648 ? undefined : v;
}

/** Java's `String.split(sep)`: trailing empty strings are dropped. */
function javaSplit(text: string, sep: string): string[] {
  const parts = text.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Java's `String.hashCode` over UTF-16 code units. */
function javaHash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return h;
}
