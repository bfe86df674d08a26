/**
 * HTML built with a tagged template that escapes every interpolated value, so text that came from a push (labels,
 * annotations, tags, names) can never become markup. STYLE B1 says "TSX rendered to strings"; we chose tagged
 * templates instead: the same escaping-by-default guarantee without a JSX toolchain to configure in tsc and tsx.
 *
 *   html`<td>${tag}</td>`               → the tag, escaped
 *   html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`   → arrays of Html are joined
 *   html`${cond && html`<b>x</b>`}`      → null, undefined, true and false render as nothing
 *
 * Attribute values must be quoted (`href="${url}"`); quotes are escaped too. URLs from untrusted input go through
 * `safeUrl` so a `javascript:` link cannot be built.
 */

/** A trusted fragment of HTML: produced only by `html` (whose holes are escaped) or `raw` (constants only). */
export class Html {
  readonly #value: string;

  /** @internal use `html` or `raw` */
  constructor(value: string) {
    this.#value = value;
  }

  toString(): string {
    return this.#value;
  }
}

/** What may fill a hole in `html`: text (escaped), trusted fragments, lists of them, or nothing. */
export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text → HTML text or attribute value (quoted): `& < > " ' \`` escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.toString();
  if (value === null || value === undefined || typeof value === 'boolean') return '';
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Marks a string as HTML without escaping it. Only for constants written in this code base, never for input. */
export function raw(constant: string): Html {
  return new Html(constant);
}

/** Several fragments as one (e.g. with a separator). */
export function joinHtml(parts: readonly Html[], separator: Html = raw('')): Html {
  return new Html(parts.map(String).join(separator.toString()));
}

/**
 * An absolute http(s) URL as given, anything else (javascript:, data:, relative tricks) replaced by `#`; the
 * result still goes through the template's escaping when interpolated.
 */
export function safeUrl(url: string | null | undefined): string {
  if (!url) return '#';
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : '#';
  } catch {
    return '#';
  }
}
