/**
 * Logger receives raft's diagnostics. Messages are plain sentences with the node id already in
 * them; a server maps them to its own structured logger.
 */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** A Logger that discards everything: the default, so the core never writes to a console. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
