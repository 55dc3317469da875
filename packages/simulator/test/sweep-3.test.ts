import {describe} from 'vitest';
import {defineSweep, seedRange} from './sweep.js';

// Seeds 301..450 of the fixed list; each seed picks its own mix of faults (swarm testing).
describe('simulated runs with faults, seeds 301-450', () => {
  defineSweep(seedRange(301, 450));
});
