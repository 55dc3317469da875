import {describe, expect, it} from 'vitest';

import type {ZkAuthId} from './zk-auth.js';
import {INVALID_ACL, ZkAuth} from './zk-auth.js';

const ip = (id: string): ZkAuthId => ({scheme: 'ip', id});
const digest = (userColonPassword: string): ZkAuthId => ({
  scheme: 'digest',
  id: ZkAuth.digestId(userColonPassword),
});

describe('ZkAuth', () => {
  it('makes the digest id ZooKeeper stores', () => {
    expect(ZkAuth.digestId('alice:secret')).toBe('alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=');
    expect(ZkAuth.digestId('no-colon')).toMatch(/^no-colon:/);
  });

  it.each([
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.0/8', true],
    ['127.0.0.1', '127.0.0.2/32', false],
    ['127.0.0.1', '10.0.0.0/8', false],
    ['10.1.2.3', '0.0.0.0/0', true],
    ['::ffff:127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '1.2.3.4/33', false],
  ])('ip %s against the ACL ip:%s: %s', (remote, expr, allowed) => {
    expect(ZkAuth.allows([{perms: 1, scheme: 'ip', id: expr}], 1, [ip(remote)])).toBe(allowed);
  });

  it.each([
    ['an empty list', []],
    ['an unknown scheme', [{perms: 31, scheme: 'nonsense', id: 'x'}]],
    ['world but not anyone', [{perms: 31, scheme: 'world', id: 'someone'}]],
    ['a digest without a colon', [{perms: 31, scheme: 'digest', id: 'alice'}]],
    ['a digest with three parts', [{perms: 31, scheme: 'digest', id: 'a:b:c'}]],
    ['a digest ending in a colon', [{perms: 31, scheme: 'digest', id: 'alice:'}]],
    ['an x509 id Java cannot parse', [{perms: 31, scheme: 'x509', id: 'not a name'}]],
    ['an x509 id of an unknown attribute', [{perms: 31, scheme: 'x509', id: 'NOPE=x'}]],
    ['sasl, not configured', [{perms: 31, scheme: 'sasl', id: 'alice'}]],
    ['an ip of three octets', [{perms: 31, scheme: 'ip', id: '1.2.3'}]],
    ['an IPv6 ip', [{perms: 31, scheme: 'ip', id: '::1'}]],
    ['auth without a digest id', [{perms: 31, scheme: 'auth', id: ''}]],
  ])('refuses %s as InvalidACL', (_name, acl) => {
    expect(ZkAuth.fixupAcl(acl, [ip('127.0.0.1')])).toBe(INVALID_ACL);
  });

  it('expands auth to every digest id, drops duplicates and keeps Java split quirks', () => {
    const ids = [ip('127.0.0.1'), digest('alice:secret'), digest('bob:pw')];
    const world = {perms: 1, scheme: 'world', id: 'anyone'};
    expect(ZkAuth.fixupAcl([{perms: 17, scheme: 'auth', id: 'x'}, world, world], ids)).toEqual([
      {perms: 17, ...digest('alice:secret')},
      {perms: 17, ...digest('bob:pw')},
      world,
    ]);
    // Java's split drops trailing empty strings: `a:b:` has two parts.
    expect(ZkAuth.fixupAcl([{perms: 1, scheme: 'digest', id: 'a:b:'}], ids)).not.toBe(INVALID_ACL);
  });

  it('lets super through everything and an empty ACL allow all', () => {
    const none = [{perms: 0, scheme: 'world', id: 'anyone'}];
    expect(ZkAuth.allows(none, 1, [ip('127.0.0.1')])).toBe(false);
    expect(ZkAuth.allows(none, 1, [{scheme: 'super', id: ''}])).toBe(true);
    expect(ZkAuth.allows([], 16, [])).toBe(true);
    expect(
      ZkAuth.authenticate('digest', Buffer.from('super:pw'), '1.2.3.4', digest('super:pw').id),
    ).toEqual([{scheme: 'super', id: ''}, digest('super:pw')]);
    expect(ZkAuth.authenticate('x509', Buffer.from('x'), '1.2.3.4', undefined)).toBeUndefined();
  });

  it('gives a client certificate its x509 id, super first for the x509 super user', () => {
    const alice = {scheme: 'x509', id: 'CN=alice,O=Acme'};
    expect(ZkAuth.x509Ids('CN=alice,O=Acme', undefined)).toEqual([alice]);
    expect(ZkAuth.x509Ids('CN=alice,O=Acme', 'CN=admin')).toEqual([alice]);
    expect(ZkAuth.x509Ids('CN=admin', 'CN=admin')).toEqual([
      {scheme: 'super', id: 'CN=admin'},
      {scheme: 'x509', id: 'CN=admin'},
    ]);
    const ids = [ip('127.0.0.1'), alice];
    // addauth x509 gives the certificate's ids again; without a certificate it fails.
    expect(ZkAuth.authenticate('x509', Buffer.from('x'), '127.0.0.1', undefined, [alice])).toEqual([
      alice,
    ]);
    // An x509 ACL matches the exact subject name only; auth expands to it.
    expect(ZkAuth.allows([{perms: 1, ...alice}], 1, ids)).toBe(true);
    expect(ZkAuth.allows([{perms: 1, scheme: 'x509', id: 'CN=alice, O=Acme'}], 1, ids)).toBe(false);
    expect(ZkAuth.fixupAcl([{perms: 3, scheme: 'auth', id: ''}], ids)).toEqual([
      {perms: 3, ...alice},
    ]);
    // whoAmI names no user for super: no provider has its scheme.
    expect(ZkAuth.userOf({scheme: 'super', id: 'CN=admin'})).toBe('');
  });

  it('hides digest hashes from a reader without ADMIN', () => {
    expect(
      ZkAuth.redactDigests([
        {perms: 1, ...digest('bob:pw')},
        {perms: 1, ...ip('10.0.0.1')},
      ]),
    ).toEqual([
      {perms: 1, scheme: 'digest', id: 'bob:x'},
      {perms: 1, ...ip('10.0.0.1')},
    ]);
  });

  it('lists ids in java.util.HashSet order, as ZooKeeper 3.8.0 does', () => {
    const users = (ids: ZkAuthId[]) => ZkAuth.inJavaSetOrder(ids).map(x => ZkAuth.userOf(x));
    // The orders ZooKeeper 3.8.0 answered whoAmI with in the differential suite.
    expect(users([ip('127.0.0.1'), digest('alice:secret'), digest('bob:pw')])).toEqual([
      'alice',
      'bob',
      '127.0.0.1',
    ]);
    expect(users([ip('127.0.0.1'), digest('no-colon'), digest('carol:')])).toEqual([
      'no-colon',
      '127.0.0.1',
      'carol',
    ]);
    const superIds = [
      ip('127.0.0.1'),
      digest('super:wrong'),
      {scheme: 'super', id: ''},
      digest('super:superpass'),
    ];
    expect(ZkAuth.inJavaSetOrder(superIds).map(x => x.id)).toEqual([
      '',
      digest('super:superpass').id,
      '127.0.0.1',
      digest('super:wrong').id,
    ]);
  });

  it('takes an x509 ACL only when the cluster has the x509 provider, and asks only then', () => {
    const x509 = {perms: 31, scheme: 'x509', id: 'CN=alice,O=Acme'};
    const world = {perms: 31, scheme: 'world', id: 'anyone'};
    expect(ZkAuth.fixupAcl([x509], [], () => true)).toEqual([x509]);
    expect(ZkAuth.fixupAcl([world, x509], [], () => false)).toBe(INVALID_ACL);
    // A malformed name is InvalidACL with the provider too.
    expect(ZkAuth.fixupAcl([{...x509, id: 'not a name'}], [], () => true)).toBe(INVALID_ACL);
    let asked = 0;
    const provider = () => {
      asked++;
      return false;
    };
    expect(ZkAuth.fixupAcl([world], [], provider)).toEqual([world]);
    expect(asked).toBe(0);
  });
});
