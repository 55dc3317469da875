/** Why a member stops for good once it learns it was removed, as etcd says it. */
export const memberRemovedMessage = 'the member has been permanently removed from the cluster';

/** The error a member stops with once it has been removed from its cluster. */
export class MemberRemovedError extends Error {
  override readonly name = 'MemberRemovedError';
  constructor() {
    super(memberRemovedMessage);
  }
}
