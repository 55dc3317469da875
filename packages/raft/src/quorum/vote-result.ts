/**
 * VoteResult is the outcome of an election tally: `won` once a majority granted, `lost` once a
 * majority can no longer be reached, `pending` otherwise.
 */
export type VoteResult = 'pending' | 'lost' | 'won';
