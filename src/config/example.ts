import { envName, SCHEMA, UPSTREAM_SCHEMA, type KeySpec } from './schema.js';

/** Renders docs/berth.example.yaml from the schema: every key, commented, with its default and variable. */
export function renderExampleConfig(): string {
  const lines = [
    '# Berth configuration. Every key is optional: with no file at all Berth runs on SQLite + local files in ./data.',
    '# Precedence: defaults < this file (--config or BERTH_CONFIG) < BERTH_* environment variables < command-line flags.',
    '# Any variable also accepts a _FILE variant naming a file that holds the value (for secrets).',
    '# Generated from src/config/schema.ts by `berth config example`; do not edit by hand.',
    '',
  ];
  const tree = new Map<string, [string, KeySpec][]>();
  for (const [key, spec] of Object.entries(SCHEMA) as [string, KeySpec][]) {
    const section = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
    tree.set(section, [...(tree.get(section) ?? []), [key, spec]]);
  }
  let open: string[] = [];
  for (const [section, keys] of tree) {
    const parts = section ? section.split('.') : [];
    let common = 0;
    while (common < open.length && open[common] === parts[common]) common++;
    for (let i = common; i < parts.length; i++) lines.push(`${'  '.repeat(i)}${parts[i]}:`);
    open = parts;
    for (const [key, spec] of keys) {
      const indent = '  '.repeat(parts.length);
      const leaf = key.slice(key.lastIndexOf('.') + 1);
      lines.push(`${indent}# ${spec.help}${spec.enum ? ` One of: ${spec.enum.join(', ')}.` : ''} (${envName(key)})`);
      lines.push(`${indent}${spec.default === null ? '# ' : ''}${leaf}: ${yamlValue(spec.default)}`.trimEnd());
    }
  }
  // The last section is `mirror`: its upstreams are named by the operator, so they are shown as a commented example.
  lines.push('  # Pull-through caches: any number of namespaces, each pulled through its upstream (HOST/dockerhub/library/alpine:3.20).');
  lines.push('  # upstreams:');
  lines.push('  #   dockerhub:');
  for (const [key, spec] of Object.entries(UPSTREAM_SCHEMA) as [string, KeySpec][]) {
    lines.push(`  #     # ${spec.help} (${envName(`mirror.upstreams.dockerhub.${key}`)})`);
    const sample: Record<string, string> = { url: '"https://registry-1.docker.io"', username: '"alice"', password: '"…"', default: 'true', evictAfter: '30d' };
    lines.push(`  #     ${key}: ${sample[key] ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

function yamlValue(value: string | number | boolean | null): string {
  if (value === null) return '';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
