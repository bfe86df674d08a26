import { BerthError, isBerthError } from '../../util/errors.js';

/**
 * The web UI's refusals. Each situation's status is decided here; the UI error handler renders them as HTML
 * pages (their messages are shown, escaped), except SIGN_IN_REQUIRED, which sends the browser to the sign-in page.
 */
export const SIGN_IN_REQUIRED = 'SIGN_IN_REQUIRED';

export const pageNotFound = (): BerthError => new BerthError({ status: 404, code: 'PAGE_NOT_FOUND', message: 'This page does not exist, or you are not allowed to see it.' });

export const signInRequired = (): BerthError => new BerthError({
  status: 401, code: SIGN_IN_REQUIRED, message: 'Sign in to see this page.', headers: { 'WWW-Authenticate': 'FormBased realm="Berth"' },
});

export const forbiddenPage = (message: string): BerthError => new BerthError({ status: 403, code: 'FORBIDDEN', message });

export const csrfRejected = (): BerthError => new BerthError({
  status: 403, code: 'CSRF_REJECTED', message: 'The form expired or did not come from this site. Go back, reload the page and try again.',
});

export const tooManyAttempts = (seconds: number): BerthError => new BerthError({
  status: 429, code: 'TOO_MANY_ATTEMPTS', message: `Too many failed sign-in attempts. Try again in ${seconds} seconds.`,
  headers: { 'Retry-After': String(seconds) },
});

export const formInvalid = (message: string): BerthError => new BerthError({ status: 422, code: 'FORM_INVALID', message });

/** Input the user can fix, refused by a parser with 422: shown as the form's error rather than the API's wording. */
export function asFormError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (isBerthError(err) && err.status === 422) throw formInvalid(err.message);
    throw err;
  }
}
