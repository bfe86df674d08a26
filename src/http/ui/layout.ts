import type { Account } from '../../accounts/account-service.js';
import { html, type Html } from './html.js';
import { assetUrl } from './static-assets.js';

/** A one-line message above the page content (after a form was handled, or when it was refused). */
export interface Flash {
  readonly kind: 'success' | 'error' | 'info';
  readonly message: Html | string;
}

/** The header entry shown as current. */
export type NavItem = 'packages' | 'usage' | 'settings' | 'admin' | null;

export interface PageOptions {
  readonly title: string;
  /** The signed-in account, or null. */
  readonly actor: Account | null;
  /** The session's CSRF token (for the sign-out form); null when signed out. */
  readonly csrf: string | null;
  readonly body: Html;
  readonly nav?: NavItem;
  readonly flash?: Flash | null;
  /** The request path, for the sign-in link's return_to. */
  readonly path?: string;
}

/**
 * The whole document around a page: header with navigation and sign in/out, a skip link, `<main>`, footer.
 * Colours come from berth.css, which follows `prefers-color-scheme`; no inline script or style anywhere (CSP).
 */
export function page(opts: PageOptions): Html {
  const { actor } = opts;
  const current = (item: NavItem) => (opts.nav === item ? html` aria-current="page"` : null);
  const packagesHref = actor ? `/users/${actor.login}/packages` : '/';
  const returnTo = opts.path && opts.path !== '/login' && !opts.path.startsWith('/logout') ? `?return_to=${encodeURIComponent(opts.path)}` : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${opts.title} · Berth</title>
<link rel="icon" href="${assetUrl('favicon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${assetUrl('berth.css')}">
<script src="${assetUrl('berth.js')}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
  <nav class="site-nav" aria-label="Main">
    <a class="brand" href="/"><img src="${assetUrl('favicon.svg')}" alt="" width="28" height="28"><span>Berth</span></a>
    <ul class="nav-links">
      <li><a href="${packagesHref}"${current('packages')}>Packages</a></li>
      ${actor ? html`<li><a href="/usage"${current('usage')}>Usage</a></li>
      <li><a href="/settings/tokens"${current('settings')}>Settings</a></li>
      ${actor.isAdmin ? html`<li><a href="/admin"${current('admin')}>Admin</a></li>` : null}` : null}
    </ul>
    <div class="nav-account">
      ${actor
        ? html`<span class="nav-login" title="Signed in as ${actor.login}">${actor.login}</span>
      <form method="post" action="/logout" class="inline-form"><input type="hidden" name="_csrf" value="${opts.csrf ?? ''}"><button type="submit" class="btn btn-small">Sign out</button></form>`
        : opts.path?.startsWith('/login') ? null : html`<a class="btn btn-small btn-primary" href="/login${returnTo}">Sign in</a>`}
    </div>
  </nav>
</header>
<main id="main" tabindex="-1">
${opts.flash ? html`<div class="flash flash-${opts.flash.kind}" role="${opts.flash.kind === 'error' ? 'alert' : 'status'}">${opts.flash.message}</div>` : null}
${opts.body}
</main>
<footer class="site-footer"><p>Berth — a self-hosted, GHCR-compatible container registry</p></footer>
</body>
</html>
`;
}
