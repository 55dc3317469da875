import {describe} from 'vitest';
import {defineSweep, seedRange} from './sweep.js';

// Five founding voters (membership changes grow and shrink around five).
describe('simulated five-member runs with faults, seeds 10001-10100', () => {
  defineSweep(seedRange(10_001, 10_100), {nodes: 5});
});
