/** A setting that cannot be used, with the name the user gave it under. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`invalid --${setting}: ${detail}`);
    this.name = 'ConfigError';
  }
}
