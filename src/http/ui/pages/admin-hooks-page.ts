import type { FastifyInstance } from 'fastify';
import { INSTANCE_HOOKS } from '../../../events/hook-service.js';
import { html } from '../html.js';
import { registerHookPages } from '../hook-pages.js';
import { requireAccount, type UiDeps } from '../ui-context.js';
import { pageNotFound } from '../ui-errors.js';

/**
 * `/admin/hooks` (Site administration → Webhooks): instance-wide hooks, for every event of every namespace; instance
 * admins only (others get the 404 of a missing page). The same pages as an organization's (hook-pages.ts).
 */
export function register(app: FastifyInstance, deps: UiDeps): void {
  registerHookPages(app, deps, '/admin/hooks', async (request) => {
    if (!requireAccount(request).isAdmin) throw pageNotFound();
    return {
      scope: INSTANCE_HOOKS, base: '/admin/hooks', whose: 'the instance',
      breadcrumb: html`<a href="/admin">Site administration</a>`,
    };
  });
}
