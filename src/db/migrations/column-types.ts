import type { CreateTableBuilder } from 'kysely';
import type { Dialect } from '../connect.js';

/** An integer primary key the database generates, spelled per dialect. */
export function idColumn<T extends string>(table: CreateTableBuilder<T, never>, dialect: Dialect): CreateTableBuilder<T, 'id'> {
  return dialect === 'postgres'
    ? table.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

export function blobType(dialect: Dialect): 'bytea' | 'blob' {
  return dialect === 'postgres' ? 'bytea' : 'blob';
}

