/**
 * Test helpers for @synod/raft: an in-memory cluster ({@link Network}) and single-node
 * fixtures. Internal: for this package's tests and the simulator, not for production code.
 *
 * @internal
 */
export {drain, entries, handleReady, msg, newTestNode, summarize, tickN} from './fixtures.js';
export type {TestNode} from './fixtures.js';
export {Network} from './network.js';
export type {NetworkNode, NetworkOptions} from './network.js';
