import {describe, expect, it} from 'vitest';

import {resolveZkStores} from './zk-tls-stores.js';

describe('resolveZkStores', () => {
  it("tells a store's type from its file name as ZooKeeper does, unless the type is given", () => {
    expect(
      resolveZkStores({
        zkKeystoreFile: 'server.JKS',
        zkKeystorePassword: 'secret',
        zkTruststoreFile: 'ca.pfx',
      }),
    ).toEqual({
      keyStore: {file: 'server.JKS', password: 'secret', type: 'JKS'},
      trustStore: {file: 'ca.pfx', password: undefined, type: 'PKCS12'},
    });
    expect(
      resolveZkStores({zkKeystoreFile: 'server.keystore', zkKeystoreType: 'pkcs12'}).keyStore,
    ).toEqual({file: 'server.keystore', password: undefined, type: 'PKCS12'});
    expect(resolveZkStores({zkTruststoreFile: 'ca.pem'}).trustStore?.type).toBe('PEM');
  });

  it.each([
    [
      {zkKeystoreFile: 'server.keystore'},
      'invalid --zk-keystore-file: the type of server.keystore cannot be told from its name (.jks, .p12, .pfx or .pem): give it with --zk-keystore-type (JKS, PKCS12 or PEM)',
    ],
    [
      {zkTruststoreFile: 'ca.jks', zkTruststoreType: 'JCEKS'},
      'invalid --zk-truststore-type: JCEKS: expected JKS, PKCS12 or PEM',
    ],
    [
      {zkTruststoreFile: 'ca.bcfks', zkTruststoreType: 'BCFKS'},
      'invalid --zk-truststore-type: BCFKS (Bouncy Castle) stores are not supported',
    ],
    [
      {zkTruststorePassword: 'secret'},
      'invalid --zk-truststore-password: it is the password of --zk-truststore-file',
    ],
    [{zkKeystoreType: 'JKS'}, 'invalid --zk-keystore-type: it is the type of --zk-keystore-file'],
    [
      {zkKeystoreFile: 'a.jks', zkCertFile: 'a.pem'},
      'invalid --zk-keystore-file: give the ZooKeeper port either a key store or --zk-cert-file and --zk-key-file, not both',
    ],
    [
      {zkTruststoreFile: 'ca.jks', zkTrustedCaFile: 'ca.pem'},
      'invalid --zk-truststore-file: give the ZooKeeper port either a trust store or --zk-trusted-ca-file, not both',
    ],
  ])('refuses %j', (input, message) => {
    expect(() => resolveZkStores(input)).toThrow(message);
  });
});
