/**
 * Bad usage of a command (a missing or malformed argument, a flag that does not fit): the CLI prints its message on
 * one line and exits 2 (README "Exit codes"), never a stack trace. Thrown only by cli/ code, at the edge.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs a parser of a flag's value (a duration, a date) and turns its complaint into a UsageError naming the flag. */
export function parseFlag<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}
