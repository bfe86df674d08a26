import { Command } from 'commander';
import type { AuditRecord } from '../app/admin-services.js';
import { parseDuration } from '../util/duration.js';
import { notFound } from '../util/errors.js';
import { printTable, withDataOptions, withServices } from './admin-context.js';
import { UsageError } from './usage-error.js';

type Opts = { data?: string; config?: string; org?: string; json?: boolean; since?: string };

/**
 * `berth audit`: the audit log for export, oldest first — the whole instance (sign-ins, personal tokens, every
 * organization) or one organization's. `--json` writes one JSON object per line (JSON Lines), for a SIEM or `jq`.
 */
export function auditCommand(): Command {
  return withDataOptions(new Command('audit')).description('Print or export the audit log (the instance\'s, or one organization\'s)')
    .option('--org <org>', 'only this organization\'s records')
    .option('--since <duration>', 'only records of the last DURATION (e.g. 24h, 30d)')
    .option('--json', 'one JSON object per line (JSON Lines), every field')
    .action(async (opts: Opts) => {
      let since: number | null = null;
      if (opts.since !== undefined) {
        try {
          since = Date.now() - parseDuration(opts.since);
        } catch (err) {
          throw new UsageError(`--since: ${(err as Error).message}`);
        }
      }
      await withServices(opts, async (s) => {
        let orgId: number | null = null;
        if (opts.org !== undefined) {
          const org = await s.accounts.find(opts.org);
          if (!org || org.type !== 'org') throw notFound(`no organization named "${opts.org}"`);
          orgId = org.id;
        }
        const table: string[][] = [['TIME', 'ACTION', 'ACTOR', 'ORG', 'TARGET', 'ADDRESS']];
        for await (const r of s.audit.export({ orgId, since })) {
          if (opts.json) process.stdout.write(`${JSON.stringify(recordJson(r))}\n`);
          else table.push([new Date(r.createdAt).toISOString(), r.action, r.actorLogin ?? '-', r.orgLogin ?? '-', r.target ?? '-', r.address ?? '-']);
        }
        if (!opts.json) printTable(table);
      });
    });
}

/** The export's field names follow the REST API's (http/github/serializers.ts auditEntryJson) where they overlap. */
function recordJson(r: AuditRecord): Record<string, unknown> {
  return {
    id: r.id, '@timestamp': r.createdAt, created_at: new Date(r.createdAt).toISOString(), action: r.action,
    actor: r.actorLogin, actor_id: r.actorId, token_id: r.tokenId, actor_ip: r.address, user_agent: r.userAgent,
    org: r.orgLogin, org_id: r.orgId, repo: r.repository, target: r.target,
    before: r.before === null ? null : JSON.parse(r.before) as unknown, after: r.after === null ? null : JSON.parse(r.after) as unknown,
  };
}
