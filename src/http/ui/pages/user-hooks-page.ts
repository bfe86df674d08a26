import type { FastifyInstance } from 'fastify';
import { html } from '../html.js';
import { registerHookPages } from '../hook-pages.js';
import { requireAccount, type UiDeps } from '../ui-context.js';

/**
 * `/settings/hooks` (Settings → Developer settings → Webhooks): the signed-in user's own hooks, for the events of the
 * packages in their namespace; the same pages as an organization's (hook-pages.ts).
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  registerHookPages(app, deps, '/settings/hooks', async (request) => {
    const user = requireAccount(request);
    return {
      scope: { kind: 'user', ownerId: user.id }, base: '/settings/hooks', whose: user.login,
      breadcrumb: html`Settings / <a href="/settings/tokens">Developer settings</a>`,
    };
  });
}
