import {describe} from 'vitest';
import {defineSweep, seedRange} from './sweep.js';

// Seeds 151..300 of the fixed list; each seed picks its own mix of faults (swarm testing).
describe('simulated runs with faults, seeds 151-300', () => {
  defineSweep(seedRange(151, 300));
});
