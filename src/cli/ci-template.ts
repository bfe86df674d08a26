import { Command } from 'commander';
import { UsageError } from './usage-error.js';

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

export interface WorkflowOptions {
  registry: string;
  org: string;
  services: string[];
  path: string;
  /** `oidc`: the job's ID token logs in (no stored secret); `token`: repository secrets BERTH_USERNAME/BERTH_TOKEN. */
  auth: 'oidc' | 'token';
}

/**
 * `berth ci-template`: a GitHub Actions workflow that builds and pushes one image per service to this Berth,
 * as the guide's "Build and Push API Images" workflow does for ghcr.io: a matrix of the services whose folders
 * changed (all of them, or one, when run by hand). By default it logs in with the job's OIDC ID token, which an
 * organization trust policy accepts (README "Tokenless CI"), so the repository holds no registry secret.
 */
export function ciTemplateCommand(): Command {
  return new Command('ci-template')
    .description('Print a GitHub Actions workflow that builds and pushes one image per changed service')
    .requiredOption('--registry <host>', 'this Berth as used in image names, without a scheme, e.g. registry.example.com')
    .requiredOption('--org <owner>', 'namespace the images go to (lowercase)')
    .requiredOption('--services <list>', 'comma-separated service folders, e.g. auth-api,my-api')
    .option('--path <dir>', 'folder holding the services', 'services')
    .option('--auth <kind>', 'oidc (the job\'s ID token, no secret) or token (secrets BERTH_USERNAME and BERTH_TOKEN)', 'oidc')
    .addHelpText('after', `
With --auth oidc (the default) the organization must trust the repository's workflows once, e.g.:
  berth trust add acme --issuer ${GITHUB_ACTIONS_ISSUER} --audience registry.example.com \\
    --claim repository=acme/app --claim ref=refs/heads/main --packages auth-api,my-api --actions pull,push
With --auth token the workflow logs in with the repository secrets BERTH_USERNAME and BERTH_TOKEN (a token with
write:packages, or a CI token from \`berth token create --ci-package ...\`).

Example:
  berth ci-template --registry registry.example.com --org acme --services auth-api,my-api > .github/workflows/images.yml`)
    .action((opts: { registry: string; org: string; services: string; path: string; auth: string }) => {
      if (opts.auth !== 'oidc' && opts.auth !== 'token') throw new UsageError(`--auth: "${opts.auth}" is neither oidc nor token`);
      process.stdout.write(renderWorkflow({ ...opts, auth: opts.auth, services: opts.services.split(',').map((s) => s.trim()).filter(Boolean) }));
    });
}

function validate(opts: WorkflowOptions): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.registry)) {
    throw new UsageError(`--registry: write the host image names use, without a scheme (e.g. ${opts.registry.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '')})`);
  }
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(opts.registry)) {
    throw new UsageError(`--registry: "${opts.registry}" is not a host name (lowercase, optionally with :port, no path)`);
  }
  if (!NAME.test(opts.org)) {
    const lower = opts.org.toLowerCase();
    throw new UsageError(NAME.test(lower) ? `--org: image names are lowercase: use ${lower}` : `--org: "${opts.org}" is not a valid namespace`);
  }
  if (opts.services.length === 0) throw new UsageError('--services: name at least one service');
  for (const s of opts.services) {
    if (!NAME.test(s)) throw new UsageError(`--services: "${s}" is not a valid image name (lowercase letters, digits and . _ - between them, e.g. auth-api)`);
  }
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(opts.path) || opts.path.split('/').includes('..')) {
    throw new UsageError(`--path: "${opts.path}" is not a relative folder such as services`);
  }
}

export function renderWorkflow(opts: WorkflowOptions): string {
  validate(opts);
  const paths = opts.services.map((s) => `      - '${opts.path}/${s}/**'`).join('\n');
  const choices = ['all', ...opts.services].map((s) => `          - ${s}`).join('\n');
  const list = JSON.stringify(opts.services);
  const oidc = opts.auth === 'oidc';
  const header = oidc
    ? `# Logs in with the job's OIDC ID token: no registry secret in this repository. Once, an owner of ${opts.org} runs
#   berth trust add ${opts.org} --issuer ${GITHUB_ACTIONS_ISSUER} --audience ${opts.registry} \\
#     --claim repository=<owner>/<repository> --claim ref=refs/heads/main --packages ${opts.services.join(',')} --actions pull,push`
    : `# Logs in with the repository secrets BERTH_USERNAME and BERTH_TOKEN (write:packages, or a CI token).`;
  const permissions = oidc ? '  contents: read\n  id-token: write' : '  contents: read\n  packages: write';
  const login = oidc
    ? `      - name: Log in to ${opts.registry} with the job's OIDC token
        run: |
          token=$(curl -sSf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$REGISTRY" | jq -r .value)
          echo "::add-mask::$token"
          echo "$token" | docker login "$REGISTRY" -u oidc --password-stdin`
    : `      - uses: docker/login-action@v3
        with:
          registry: \${{ env.REGISTRY }}
          username: \${{ secrets.BERTH_USERNAME }}
          password: \${{ secrets.BERTH_TOKEN }}`;
  return `# Generated by \`berth ci-template\`. Builds and pushes one image per changed service to ${opts.registry}/${opts.org}.
${header}
name: Build and Push API Images

on:
  push:
    branches: [main]
    paths:
${paths}
  workflow_dispatch:
    inputs:
      service:
        description: Service to build
        type: choice
        default: all
        options:
${choices}

permissions:
${permissions}

env:
  REGISTRY: ${opts.registry}
  ORG: ${opts.org}

jobs:
  select:
    runs-on: ubuntu-latest
    outputs:
      services: \${{ steps.pick.outputs.services }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      # A push builds the services whose folders changed since the previous head; a new branch or a manual run
      # with "all" builds every service.
      - id: pick
        env:
          ALL: '${list}'
          SERVICES_DIR: ${opts.path}
          EVENT: \${{ github.event_name }}
          CHOSEN: \${{ inputs.service }}
          BEFORE: \${{ github.event.before }}
        run: |
          if [ "$EVENT" = "workflow_dispatch" ]; then
            if [ "$CHOSEN" = "all" ]; then picked="$ALL"; else picked=$(jq -cn --arg s "$CHOSEN" '[$s]'); fi
          elif [ -z "$BEFORE" ] || ! git cat-file -e "$BEFORE^{commit}" 2>/dev/null; then
            picked="$ALL"
          else
            changed=$(git diff --name-only "$BEFORE" "$GITHUB_SHA" -- "$SERVICES_DIR/" | cut -d/ -f2 | sort -u)
            picked=$(jq -cn --argjson all "$ALL" --arg changed "$changed" '($changed | split("\\n")) as $c | [$all[] | select(. as $s | any($c[]; . == $s))]')
          fi
          echo "services=$picked" >> "$GITHUB_OUTPUT"

  build:
    needs: select
    if: needs.select.outputs.services != '[]'
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        service: \${{ fromJSON(needs.select.outputs.services) }}
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
${login}
      - uses: docker/metadata-action@v5
        id: meta
        with:
          images: \${{ env.REGISTRY }}/\${{ env.ORG }}/\${{ matrix.service }}
          tags: |
            type=raw,value=latest,enable={{is_default_branch}}
            type=sha
      - uses: docker/build-push-action@v6
        with:
          context: ${opts.path}/\${{ matrix.service }}
          push: true
          tags: \${{ steps.meta.outputs.tags }}
          labels: \${{ steps.meta.outputs.labels }}
`;
}
