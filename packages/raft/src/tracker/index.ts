export {Inflights} from './inflights.js';
export {Progress} from './progress.js';
export type {ProgressState} from './progress.js';
export {ProgressTracker} from './progress-tracker.js';
