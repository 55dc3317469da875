/**
 * `@synod/recipes`: coordination recipes (lock, election, service registry,
 * config watcher, ZooKeeper-style node tree) as RxJS Observables over
 * `@synod/client`. The recipes land with their own issue.
 */
export {};
