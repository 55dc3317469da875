import type {RandomSource} from '@synod/server';

import type {Prng} from './prng.js';

/** The member's {@link RandomSource} drawn from the run's seeded PRNG, so a seed replays it. */
export function simRandomSource(prng: Prng): RandomSource {
  return {int: maxExclusive => prng.nextInt(maxExclusive)};
}
