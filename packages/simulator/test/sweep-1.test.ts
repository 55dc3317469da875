import {describe} from 'vitest';
import {defineSweep, seedRange} from './sweep.js';

// Seeds 1..150 of the fixed list; each seed picks its own mix of faults (swarm testing).
describe('simulated runs with faults, seeds 1-150', () => {
  defineSweep(seedRange(1, 150));
});
