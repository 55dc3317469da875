/**
 * `@synod/simulator`: a deterministic cluster simulator (seeded PRNG, virtual
 * clock, faulty network and disks) that drives the Raft core, the storage engine
 * and later the server's Ready loop. Imported only by tests and tools.
 */
export {};
