/**
 * `@synod/client`: a typed client for any etcd v3 cluster, Synod or etcd.
 *
 * The client lands with its own issue; until then this package only fixes its
 * place in the dependency graph (it depends on `@synod/proto`, never on the server).
 */
export {};
