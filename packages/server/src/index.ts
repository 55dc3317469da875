/**
 * `@synod/server`: a cluster member that serves the etcd v3 API over Raft, and
 * `startMember(config)` for embedding one in-process. The member lands with its
 * own issue; this package already sits in the graph above raft and storage.
 */
export {};
