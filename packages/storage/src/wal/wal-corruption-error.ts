/**
 * Damage in a WAL that a crash cannot explain: acknowledged records are unreadable. The
 * member must not start from this log (that could lose committed entries); restore it from
 * a snapshot or remove and re-add it to the cluster.
 */
export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(
      `WAL corrupt in ${file} at offset ${offset}: ${reason}. Refusing to start: restore this ` +
        'member from a snapshot or remove it and re-add it to the cluster.',
    );
    this.name = 'WalCorruptionError';
  }
}
