import {EtcdErrors} from '@synod/proto';
import {ClientError, Status} from 'nice-grpc';
import {describe, expect, it} from 'vitest';

import {backoffDelayMs} from './backoff.js';
import {
  AuthFailedError,
  CompactedError,
  DeadlineExceededError,
  EtcdError,
  FutureRevisionError,
  InvalidAuthTokenError,
  LeaseNotFoundError,
  NoLeaderError,
  PermissionDeniedError,
  UnavailableError,
  toEtcdError,
} from './errors.js';

describe('toEtcdError', () => {
  it.each([
    [EtcdErrors.compacted, CompactedError],
    [EtcdErrors.futureRev, FutureRevisionError],
    [EtcdErrors.leaseNotFound, LeaseNotFoundError],
    [EtcdErrors.permissionDenied, PermissionDeniedError],
    [EtcdErrors.invalidAuthToken, InvalidAuthTokenError],
    [EtcdErrors.authFailed, AuthFailedError],
    [EtcdErrors.noLeader, NoLeaderError],
    [EtcdErrors.leaderChanged, UnavailableError],
  ])('maps %j to its class', (spec, type) => {
    const error = toEtcdError(new ClientError('/etcdserverpb.KV/Range', spec.code, spec.message));
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({
      code: spec.code,
      details: spec.message,
      method: '/etcdserverpb.KV/Range',
    });
    expect((error as EtcdError).name).toBe(type.name);
  });

  it('keeps the code and message of errors etcd does not define', () => {
    const error = toEtcdError(new ClientError('/x', Status.INTERNAL, 'boom'));
    expect(error).toBeInstanceOf(EtcdError);
    expect(error).toMatchObject({code: Status.INTERNAL, details: 'boom', etcdName: undefined});
    expect(toEtcdError(new ClientError('/x', Status.DEADLINE_EXCEEDED, 'late'))).toBeInstanceOf(
      DeadlineExceededError,
    );
    expect(
      toEtcdError(new ClientError('/x', Status.UNAVAILABLE, 'No connection established')),
    ).toMatchObject({
      unavailable: true,
    });
  });

  it('passes through what is not a gRPC error', () => {
    const plain = new TypeError('bug');
    expect(toEtcdError(plain)).toBe(plain);
  });
});

describe('backoffDelayMs', () => {
  it('doubles up to the cap and draws from the upper half', () => {
    const options = {initialMs: 100, maxMs: 1000};
    expect(backoffDelayMs(0, options, () => 0)).toBe(50);
    expect(backoffDelayMs(0, options, () => 1)).toBe(100);
    expect(backoffDelayMs(2, options, () => 1)).toBe(400);
    expect(backoffDelayMs(10, options, () => 0)).toBe(500);
    expect(backoffDelayMs(60, options, () => 1)).toBe(1000);
  });
});
