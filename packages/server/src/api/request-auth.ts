import {EtcdErrors} from '@synod/proto';
import {ServerError, Status} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import {anonymous} from '../auth/auth-store.js';
import type {RequestAuth} from '../auth/auth-store.js';
import {verifiedCommonName} from '../transport/grpc-service.js';
import {asGrpcErrors, etcdError} from './errors.js';
import type {GuardHost} from './member-ports.js';

/** How long a request waits for this member to apply the entry that issued its token. */
const tokenWaitMs = 5000;
const tokenPollMs = 5;

/**
 * The user a call runs as: the owner of the token in its `token` metadata (or
 * `authorization`, which etcd's HTTP gateway uses), at the auth revision this
 * member holds now. Without a token, on a member started with `--client-cert-auth`,
 * the Common Name of the client certificate the TLS handshake verified, as etcd's
 * `AuthInfoFromTLS` does; else {@link anonymous}.
 *
 * A simple token names the raft index it was issued at; a member that has not
 * yet applied that index waits for it, so a token issued by one member works at
 * once on any other. An unknown, expired or malformed token fails with etcd's
 * "invalid auth token", as a token does after auth was disabled.
 */
export async function requestAuth(member: GuardHost, context: CallContext): Promise<RequestAuth> {
  const token = context.metadata.get('token') ?? context.metadata.get('authorization');
  if (token === undefined || token === '') {
    if (member.config.clientTls?.clientCertAuth !== true) return anonymous;
    const cn = verifiedCommonName(context);
    if (cn === undefined || cn === '') return anonymous;
    return {username: cn, authRevision: member.auth.revision};
  }
  const index = member.authTokens.issuedAt(token);
  if (index === undefined) throw etcdError(EtcdErrors.invalidAuthToken);
  const deadline = Date.now() + tokenWaitMs;
  while (member.appliedIndex < index) {
    if (Date.now() > deadline || context.signal.aborted) {
      throw etcdError(EtcdErrors.invalidAuthToken);
    }
    await new Promise(resolve => setTimeout(resolve, tokenPollMs));
  }
  const info = member.authTokens.info(token, member.auth.revision);
  if (info === undefined) throw etcdError(EtcdErrors.invalidAuthToken);
  return {username: info.username, authRevision: info.revision};
}

/**
 * The caller, let through only as a root user while auth is on (etcd's
 * `IsAdminPermitted`): for maintenance operations and membership changes.
 */
export async function requireRoot(member: GuardHost, context: CallContext): Promise<RequestAuth> {
  const auth = await requestAuth(member, context);
  asGrpcErrors(() => {
    member.auth.checkAdmin(auth);
  });
  return auth;
}

/**
 * {@link requireRoot} for Defragment, Hash, HashKV and Snapshot, whose refusals etcd
 * returns unconverted: gRPC code Unknown and the auth package's own text
 * (`auth: permission denied`, `auth: user name is empty`, `auth: invalid auth token`).
 */
export async function requireRootForMaintenance(
  member: GuardHost,
  context: CallContext,
): Promise<RequestAuth> {
  try {
    return await requireRoot(member, context);
  } catch (error) {
    if (error instanceof ServerError && error.details.startsWith('etcdserver: ')) {
      throw new ServerError(Status.UNKNOWN, `auth: ${error.details.slice('etcdserver: '.length)}`);
    }
    throw error;
  }
}
