/**
 * Constraint violations as both drivers report them (pg: SQLSTATE, better-sqlite3: extended result code), for the
 * few places that turn a lost race into a clean answer instead of a 500.
 */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}
