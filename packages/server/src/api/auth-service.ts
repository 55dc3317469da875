import {AuthRoleGetRequest, AuthUserGetRequest, EtcdErrors} from '@synod/proto';
import type {AuthServiceImplementation} from '@synod/proto';
import bcrypt from 'bcryptjs';
import type {CallContext} from 'nice-grpc-common';

import type {RequestAuth} from '../auth/auth-store.js';
import {newTokenPrefix} from '../auth/simple-tokens.js';
import type {InternalRequestBody, MemberCore} from '../member/member.js';
import {etcdError, requireLeaderIfAsked, unwrap} from './errors.js';
import {authChecked, authCheckedAsync, requestAuth} from './request-auth.js';

/**
 * etcd's Auth service. Every change to users, roles, permissions or the enabled
 * flag is proposed through Raft as the calling user and checked (root only, while
 * auth is on) when it is applied. Reads of the store are local after a ReadIndex
 * round. Passwords are hashed with bcrypt on the member that receives them, before
 * proposing, so neither the log nor the apply path sees a plain password or spends
 * time hashing; Authenticate likewise checks the password here and proposes only
 * the new token, which every member learns when it applies the entry.
 */
export function authService(member: MemberCore): AuthServiceImplementation {
  const change = async (body: InternalRequestBody, context: CallContext) => {
    requireLeaderIfAsked(context, member.leader);
    const auth = await requestAuth(member, context);
    const {revision} = unwrap(await member.propose(body, auth));
    return {header: member.header(revision)};
  };

  /**
   * The caller, once this member has caught up with the leader, for local reads. etcd 3.4
   * sends these reads through Raft, so it refuses one larger than `--max-request-bytes` as it
   * refuses any proposal: `requestBytes` is the request's encoded size (etcd counts its raft
   * envelope too, a few bytes more).
   */
  const reader = async (context: CallContext, requestBytes = 0): Promise<RequestAuth> => {
    if (requestBytes > member.config.maxRequestBytes) throw etcdError(EtcdErrors.requestTooLarge);
    requireLeaderIfAsked(context, member.leader);
    const auth = await requestAuth(member, context);
    await member.linearizableRead();
    return auth;
  };

  /** Hashes a password as etcd 3.5 does before proposing: base64 of the bcrypt hash. */
  const hashed = async (auth: RequestAuth, password: string): Promise<string> => {
    // Refuse a non-root caller before spending a bcrypt round on it; apply checks again.
    authChecked(() => {
      member.auth.checkAdmin(auth);
    });
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
      const auth = await reader(context);
      authChecked(() => {
        member.auth.checkAdmin(auth);
      });
      return {
        header: member.header(),
        enabled: member.auth.isEnabled,
        authRevision: member.auth.revision,
      };
    },

    async authenticate(request, context) {
      requireLeaderIfAsked(context, member.leader);
      await member.linearizableRead();
      for (;;) {
        const checkedAt = await authCheckedAsync(
          member.auth.checkPassword(request.name, request.password),
        );
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
      requireLeaderIfAsked(context, member.leader);
      const auth = await requestAuth(member, context);
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
      const auth = await reader(context, AuthUserGetRequest.encode(request).finish().length);
      const roles = authChecked(() => {
        if (request.name !== auth.username) member.auth.checkAdmin(auth);
        return member.auth.userRoles(request.name);
      });
      return {header: member.header(), roles};
    },

    async userList(_request, context) {
      const auth = await reader(context);
      const users = authChecked(() => {
        member.auth.checkAdmin(auth);
        return member.auth.userNames();
      });
      return {header: member.header(), users};
    },

    userDelete(request, context) {
      return change({$case: 'authUserDelete', value: request}, context);
    },

    async userChangePassword(request, context) {
      requireLeaderIfAsked(context, member.leader);
      const auth = await requestAuth(member, context);
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
      const auth = await reader(context, AuthRoleGetRequest.encode(request).finish().length);
      const perm = authChecked(() => {
        if (!member.auth.hasRole(auth.username, request.role)) member.auth.checkAdmin(auth);
        return member.auth.rolePermissions(request.role);
      });
      return {header: member.header(), perm};
    },

    async roleList(_request, context) {
      const auth = await reader(context);
      const roles = authChecked(() => {
        member.auth.checkAdmin(auth);
        return member.auth.roleNames();
      });
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
