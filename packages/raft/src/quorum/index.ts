export {MajorityConfig} from './majority-config.js';
export type {VoteResult} from './vote-result.js';
