import { CompiledQuery, type Compilable, type Kysely } from 'kysely';

/**
 * A query built and compiled once, then run with new parameter values: for the few hot paths (manifest GET)
 * where building and compiling a Kysely query costs more than running it. The builder receives placeholder
 * strings; each is replaced positionally by the matching argument. Result rows go through the Kysely plugins
 * (camelCase) as usual.
 */
export function preparedQuery<Row, Args extends readonly string[]>(
  db: Kysely<never>, arity: Args['length'], build: (...placeholders: string[]) => Compilable<Row>,
): (...args: Args) => Promise<Row[]> {
  const placeholders = Array.from({ length: arity }, (_, i) => `\u0000berth-placeholder-${i}\u0000`);
  const compiled = build(...placeholders).compile();
  const slots = compiled.parameters.map((p) => placeholders.indexOf(p as string));
  if (slots.filter((s) => s >= 0).length !== arity) throw new Error('preparedQuery: every placeholder must be used exactly once');
  return async (...args) => {
    const parameters = compiled.parameters.map((p, i) => (slots[i]! >= 0 ? args[slots[i]!] : p));
    const result = await db.executeQuery<Row>(CompiledQuery.raw(compiled.sql, parameters));
    return result.rows;
  };
}
