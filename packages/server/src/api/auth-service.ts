import {AuthRoleGetRequest, AuthUserGetRequest, EtcdErrors} from '@synod/proto';
import type {AuthDefinition, AuthServiceImplementation} from '@synod/proto';
import bcrypt from 'bcryptjs';
import type {CallContext} from 'nice-grpc-common';

import type {RequestAuth} from '../auth/auth-store.js';
import {newTokenPrefix} from '../auth/simple-tokens.js';
import type {InternalRequestBody} from '../member/member.js';
import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {etcdError, unwrap} from './errors.js';
import type {AuthBackend} from './member-ports.js';

/**
 * etcd 3.4 sends the Auth service's reads through Raft, so it refuses one larger than
 * `--max-request-bytes` as it refuses any proposal: `requestBytes` is the request's encoded
 * size (etcd counts its raft envelope too, a few bytes more).
 */
function refuseLargerThan(maxRequestBytes: number, requestBytes: number): void {
  if (requestBytes > maxRequestBytes) throw etcdError(EtcdErrors.requestTooLarge);
}

/**
 * Every Auth call but Authenticate runs as its caller (Authenticate checks a password
 * instead); UserGet and RoleGet are refused when larger than a proposal may be.
 */
export function authGuards(
  limits: Pick<AuthBackend['config'], 'maxRequestBytes'>,
): ServiceGuards<typeof AuthDefinition> {
  const asCaller = {hasLeader: true, caller: 'user'} as const;
  return {
    authEnable: asCaller,
    authDisable: asCaller,
    authStatus: asCaller,
    authenticate: {hasLeader: true, caller: 'none'},
    userAdd: asCaller,
    userGet: {
      ...asCaller,
      validate: request => {
        refuseLargerThan(
          limits.maxRequestBytes,
          AuthUserGetRequest.encode(request).finish().length,
        );
      },
    },
    userList: asCaller,
    userDelete: asCaller,
    userChangePassword: asCaller,
    userGrantRole: asCaller,
    userRevokeRole: asCaller,
    roleAdd: asCaller,
    roleGet: {
      ...asCaller,
      validate: request => {
        refuseLargerThan(
          limits.maxRequestBytes,
          AuthRoleGetRequest.encode(request).finish().length,
        );
      },
    },
    roleList: asCaller,
    roleDelete: asCaller,
    roleGrantPermission: asCaller,
    roleRevokePermission: asCaller,
  };
}

/**
 * etcd's Auth service. Every change to users, roles, permissions or the enabled
 * flag is proposed through Raft as the calling user and checked (root only, while
 * auth is on) when it is applied. Reads of the store are local after a ReadIndex
 * round. Passwords are hashed with bcrypt on the member that receives them, before
 * proposing, so neither the log nor the apply path sees a plain password or spends
 * time hashing; Authenticate likewise checks the password here and proposes only
 * the new token, which every member learns when it applies the entry.
 */
export function authService(member: AuthBackend): AuthServiceImplementation {
  const change = async (body: InternalRequestBody, context: CallContext) => {
    const {revision} = unwrap(await member.propose(body, callerOf(context)));
    return {header: member.header(revision)};
  };

  /** The caller, once this member has caught up with the leader, for local reads. */
  const reader = async (context: CallContext): Promise<RequestAuth> => {
    const auth = callerOf(context);
    await member.linearizableRead();
    return auth;
  };

  /** Hashes a password as etcd 3.5 does before proposing: base64 of the bcrypt hash. */
  const hashed = async (auth: RequestAuth, password: string): Promise<string> => {
    // Refuse a non-root caller before spending a bcrypt round on it; apply checks again.
    member.auth.checkAdmin(auth);
    const hash = await bcrypt.hash(password, member.config.bcryptCost);
    return Buffer.from(hash).toString('base64');
  };

  return {
    authEnable(_request, context) {
      return change({$case: 'authEnable', value: {}}, context);
    },

    authDisable(_request, context) {
      return change({$case: 'authDisable', value: {}}, context);
    },

    async authStatus(_request, context) {
      member.auth.checkAdmin(await reader(context));
      return {
        header: member.header(),
        enabled: member.auth.isEnabled,
        authRevision: member.auth.revision,
      };
    },

    async authenticate(request) {
      await member.linearizableRead();
      for (;;) {
        const checkedAt = await member.auth.checkPassword(request.name, request.password);
        // The entry carries the token's random part in place of the password.
        const result = unwrap(
          await member.propose({
            $case: 'authenticate',
            value: {name: request.name, password: newTokenPrefix()},
          }),
        );
        // A password changed between the check and the apply: check it again.
        if (member.auth.revision === checkedAt) {
          const {token} = result.response as {token: string};
          return {header: member.header(result.revision), token};
        }
      }
    },

    async userAdd(request, context) {
      const auth = callerOf(context);
      const noPassword = request.options?.noPassword ?? false;
      const hashedPassword =
        noPassword || request.hashedPassword !== ''
          ? request.hashedPassword
          : await hashed(auth, request.password);
      const {revision} = unwrap(
        await member.propose(
          {
            $case: 'authUserAdd',
            value: {
              name: request.name,
              password: '',
              options: {noPassword},
              hashedPassword: noPassword ? '' : hashedPassword,
            },
          },
          auth,
        ),
      );
      return {header: member.header(revision)};
    },

    async userGet(request, context) {
      const auth = await reader(context);
      if (request.name !== auth.username) member.auth.checkAdmin(auth);
      const roles = member.auth.userRoles(request.name);
      return {header: member.header(), roles};
    },

    async userList(_request, context) {
      member.auth.checkAdmin(await reader(context));
      const users = member.auth.userNames();
      return {header: member.header(), users};
    },

    userDelete(request, context) {
      return change({$case: 'authUserDelete', value: request}, context);
    },

    async userChangePassword(request, context) {
      const auth = callerOf(context);
      const hashedPassword =
        request.hashedPassword !== ''
          ? request.hashedPassword
          : await hashed(auth, request.password);
      const {revision} = unwrap(
        await member.propose(
          {
            $case: 'authUserChangePassword',
            value: {name: request.name, password: '', hashedPassword},
          },
          auth,
        ),
      );
      return {header: member.header(revision)};
    },

    userGrantRole(request, context) {
      return change({$case: 'authUserGrantRole', value: request}, context);
    },

    userRevokeRole(request, context) {
      return change({$case: 'authUserRevokeRole', value: request}, context);
    },

    roleAdd(request, context) {
      return change({$case: 'authRoleAdd', value: request}, context);
    },

    async roleGet(request, context) {
      const auth = await reader(context);
      if (!member.auth.hasRole(auth.username, request.role)) member.auth.checkAdmin(auth);
      const perm = member.auth.rolePermissions(request.role);
      return {header: member.header(), perm};
    },

    async roleList(_request, context) {
      member.auth.checkAdmin(await reader(context));
      const roles = member.auth.roleNames();
      return {header: member.header(), roles};
    },

    roleDelete(request, context) {
      return change({$case: 'authRoleDelete', value: request}, context);
    },

    roleGrantPermission(request, context) {
      return change({$case: 'authRoleGrantPermission', value: request}, context);
    },

    roleRevokePermission(request, context) {
      return change({$case: 'authRoleRevokePermission', value: request}, context);
    },
  };
}
