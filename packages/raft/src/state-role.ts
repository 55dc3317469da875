/** StateRole is a node's role in the current term. */
export type StateRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';
