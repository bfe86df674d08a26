import { Command } from 'commander';
import { stringify } from 'yaml';
import { readStdin } from './admin-context.js';
import { UsageError } from './usage-error.js';

/**
 * `berth kube-secret`: the `kubernetes.io/dockerconfigjson` Secret that lets a cluster pull private images, the
 * same object `kubectl create secret docker-registry` makes, plus the `imagePullSecrets` snippet.
 */
export function kubeSecretCommand(): Command {
  return new Command('kube-secret')
    .description('Print a Kubernetes image pull Secret (kubernetes.io/dockerconfigjson) for a token')
    .requiredOption('--server <host>', 'registry host as used in image names, e.g. registry.example.com')
    .requiredOption('--username <name>', 'the token owner')
    .option('--token-stdin', 'read the token from standard input (otherwise BERTH_TOKEN or GITHUB_TOKEN, as berth doctor)')
    .option('--email <email>', 'e-mail recorded in the secret (optional)')
    .option('--name <name>', 'Secret name', 'berth-pull')
    .option('--namespace <ns>', 'Kubernetes namespace', 'default')
    .addHelpText('after', `
Examples:
  berth token create --user ci-reader --scopes read:packages --expires 90d --note k8s | \\
    berth kube-secret --server registry.example.com --username ci-reader --token-stdin --namespace api | kubectl apply -f -`)
    .action(async (opts: { server: string; username: string; tokenStdin?: boolean; email?: string; name: string; namespace: string }) => {
      // The environment as `berth doctor` reads it: BERTH_TOKEN first, then the guide's GITHUB_TOKEN.
      const token = opts.tokenStdin ? (await readStdin()).trim() : process.env.BERTH_TOKEN || process.env.GITHUB_TOKEN;
      if (!token) throw new UsageError('no token: pass --token-stdin or set BERTH_TOKEN (or GITHUB_TOKEN)');
      process.stdout.write(renderPullSecret({ ...opts, token }));
    });
}

export function renderPullSecret(opts: { server: string; username: string; token: string; email?: string; name: string; namespace: string }): string {
  const auth = Buffer.from(`${opts.username}:${opts.token}`).toString('base64');
  const config = { auths: { [opts.server]: { username: opts.username, password: opts.token, ...(opts.email ? { email: opts.email } : {}), auth } } };
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: opts.name, namespace: opts.namespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
  };
  return `${stringify(secret)}# In the Deployment's pod spec (spec.template.spec):
#   imagePullSecrets:
#     - name: ${opts.name}
`;
}
