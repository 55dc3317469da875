import {Status} from 'nice-grpc-common';
import {describe, expect, it} from 'vitest';

import {EtcdErrors, etcdErrorName} from './etcd-errors.js';

describe('etcd error catalogue', () => {
  it('gives each error a distinct message, so a client can tell them apart', () => {
    const messages = Object.values(EtcdErrors).map(e => e.message);
    expect(new Set(messages).size).toBe(messages.length);
  });

  it('uses the etcdserver: prefix on every message, as etcd clients expect', () => {
    for (const {message} of Object.values(EtcdErrors)) expect(message).toMatch(/^etcdserver: /);
  });

  it('maps the errors clients branch on to the codes etcd sends', () => {
    expect(EtcdErrors.compacted).toEqual({
      code: Status.OUT_OF_RANGE,
      message: 'etcdserver: mvcc: required revision has been compacted',
    });
    expect(EtcdErrors.noLeader.code).toBe(Status.UNAVAILABLE);
    expect(EtcdErrors.leaseNotFound.code).toBe(Status.NOT_FOUND);
    expect(EtcdErrors.noSpace.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(EtcdErrors.permissionDenied.code).toBe(Status.PERMISSION_DENIED);
    expect(EtcdErrors.invalidAuthToken.code).toBe(Status.UNAUTHENTICATED);
  });

  it('recognises an error by its exact message only', () => {
    expect(etcdErrorName('etcdserver: request is too large')).toBe('requestTooLarge');
    expect(etcdErrorName('etcdserver: request is too large ')).toBeUndefined();
    expect(etcdErrorName('mvcc: required revision has been compacted')).toBeUndefined();
  });
});
