import type { Kysely } from 'kysely';

/**
 * A package's README (Markdown, set by a package admin in the package settings; rendered by the web UI with no raw
 * HTML, src/http/ui/markdown.ts). Null: none set, the page falls back to the image's
 * `org.opencontainers.image.description`. The source link already has its column (`source_url`, 0002); an admin
 * may now set it too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('readme', 'text').execute();
}
