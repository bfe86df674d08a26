import { html, type Html, type HtmlValue } from './html.js';

/**
 * A small Markdown renderer for package READMEs, safe by construction: every piece of output is built with the `html`
 * template (its holes are escaped), so text can become only the elements below, never raw HTML. A `<script>` or
 * `<img onerror>` in a README shows as text; links keep only http(s) and relative targets (`javascript:` and
 * `data:` links stay text); there are no images (nothing loads from elsewhere, and the CSP stays as it is).
 *
 * Blocks: ATX headings (`#`, shown one level lower: the page has its own h1), paragraphs, `-`/`*`/`+` and `1.`
 * lists (nested by indentation), fenced (``` or ~~~) and indented code blocks, `>` quotes, `---` rules. Inline:
 * `code`, *emphasis*, **strong**, [links](https://…), <https://…> and bare http(s) URLs, backslash escapes.
 * Anything else (tables, HTML, footnotes) is shown as the text it is.
 */
export function renderMarkdown(markdown: string): Html {
  return html`<div class="markdown">${blocks(markdown.replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n'), 0, false)}</div>`;
}

/** Quotes and lists nest; deeper than this, their content is shown as plain paragraphs (no unbounded recursion). */
const MAX_DEPTH = 8;

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ ]+(.*?))?(?:[ ]+#+)?[ ]*$/;
const RULE = /^ {0,3}([-*_])(?:[ ]*\1){2,}[ ]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const LIST_ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])( +|$)(.*)$/;

function blocks(lines: readonly string[], depth: number, tight: boolean): Html[] {
  const out: Html[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence && !(fence[1]!.startsWith('`') && fence[2]!.includes('`'))) {
      const marker = fence[1]!;
      const code: string[] = [];
      i++;
      while (i < lines.length && !new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ ]*$`).test(lines[i]!)) code.push(lines[i++]!);
      i++;
      out.push(html`<pre><code>${code.join('\n')}</code></pre>`);
      continue;
    }
    if (/^ {4}/.test(line)) {
      const code: string[] = [];
      while (i < lines.length && (/^ {4}/.test(lines[i]!) || lines[i]!.trim() === '')) code.push(lines[i++]!.slice(4));
      while (code.length > 0 && code[code.length - 1]!.trim() === '') code.pop();
      out.push(html`<pre><code>${code.join('\n')}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(heading[1]!.length + 1, 6);
      const text = inline(heading[2] ?? '');
      out.push([html`<h2>${text}</h2>`, html`<h3>${text}</h3>`, html`<h4>${text}</h4>`, html`<h5>${text}</h5>`, html`<h6>${text}</h6>`][level - 2]!);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push(html`<hr>`);
      i++;
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const quoted: string[] = [];
      while (i < lines.length && lines[i]!.trim() !== '') {
        const q = QUOTE.exec(lines[i]!);
        quoted.push(q ? q[1]! : lines[i]!);
        i++;
      }
      out.push(html`<blockquote>${blocks(quoted, depth + 1, false)}</blockquote>`);
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item && depth < MAX_DEPTH) {
      const list = listAt(lines, i);
      i = list.end;
      const items = list.items.map((body) => html`<li>${blocks(body, depth + 1, !list.loose)}</li>`);
      out.push(list.ordered
        ? (list.start === 1 ? html`<ol>${items}</ol>` : html`<ol start="${list.start}">${items}</ol>`)
        : html`<ul>${items}</ul>`);
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '' && (paragraph.length === 0 || !startsBlock(lines[i]!))) paragraph.push(lines[i++]!.trim());
    const text = inline(paragraph.join('\n'));
    out.push(tight ? html`${text}` : html`<p>${text}</p>`);
  }
  return out;
}

/** A line that ends a paragraph because it opens another block (a list item only when it is a bullet or `1.`). */
function startsBlock(line: string): boolean {
  if (FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const item = LIST_ITEM.exec(line);
  return item !== null && item[4] !== '' && (/^[-*+]$/.test(item[2]!) || /^1[.)]$/.test(item[2]!));
}

interface ListBlock {
  readonly ordered: boolean;
  readonly start: number;
  /** The lines of each item, its indentation removed. */
  readonly items: string[][];
  /** Items separated by blank lines: their paragraphs keep `<p>`. */
  readonly loose: boolean;
  /** The index of the first line after the list. */
  readonly end: number;
}

/** The list starting at `lines[start]`: items of the same kind of marker; lines indented past the marker continue an item. */
function listAt(lines: readonly string[], start: number): ListBlock {
  const first = LIST_ITEM.exec(lines[start]!)!;
  const ordered = /\d/.test(first[2]!);
  const delimiter = first[2]!.slice(-1);
  const items: string[][] = [];
  let loose = false;
  let indent = 0;
  let i = start;
  while (i < lines.length) {
    const line = lines[i]!;
    const item = LIST_ITEM.exec(line);
    const sameKind = item !== null && /\d/.test(item[2]!) === ordered && item[2]!.slice(-1) === delimiter;
    if (sameKind && (items.length === 0 || item[1]!.length < indent)) {
      indent = item[1]!.length + item[2]!.length + Math.min(Math.max(item[3]!.length, 1), 4);
      items.push(item[4] === '' ? [] : [item[4]!]);
      i++;
      continue;
    }
    if (line.trim() === '') {
      // A blank line continues the list when the next line is an item or indented into the current one.
      const next = lines[i + 1];
      if (next === undefined || next.trim() === '') break;
      const nextItem = LIST_ITEM.exec(next);
      const continues = (next.length - next.trimStart().length) >= indent
        || (nextItem !== null && /\d/.test(nextItem[2]!) === ordered && nextItem[2]!.slice(-1) === delimiter && nextItem[1]!.length < indent);
      if (!continues) break;
      loose = true;
      items[items.length - 1]!.push('');
      i++;
      continue;
    }
    const leading = line.length - line.trimStart().length;
    if (leading >= indent) items[items.length - 1]!.push(line.slice(indent));
    else if (item === null && !startsBlock(line) && items[items.length - 1]!.length > 0) items[items.length - 1]!.push(line.trim()); // a lazy continuation
    else break;
    i++;
  }
  const number = ordered ? Number(/\d+/.exec(first[2]!)![0]) : 1;
  return { ordered, start: number, items, loose, end: i };
}

const PUNCTUATION = /[!-/:-@[-`{-~]/;
const BARE_URL = /^https?:\/\/[^\s<>"`]*[^\s<>"`.,:;!?'")\]*_~]/;
const AUTOLINK = /^<(https?:\/\/[^\s<>"`]+)>/;

/**
 * Inline Markdown of one paragraph or heading. Delimiters without a closer are text; a search for a closer that
 * fails is remembered, so a text full of unmatched `*` or `[` costs one scan per delimiter kind, not one per
 * character.
 */
function inline(text: string, depth = 0): HtmlValue[] {
  const out: HtmlValue[] = [];
  const exhausted = new Set<string>();
  let plain = '';
  // The next `]` at or after the current position (one scan for a text full of `[`).
  let bracket = -1;
  const flush = (): void => {
    if (plain !== '') out.push(plain);
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    const rest = text.slice(i, i + 2049);
    if (ch === '\\' && i + 1 < text.length && PUNCTUATION.test(text[i + 1]!)) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '`') {
      const run = /^`+/.exec(rest)![0];
      const close = exhausted.has(run) ? -1 : closingBackticks(text, i + run.length, run);
      if (close < 0) {
        exhausted.add(run);
        plain += run;
        i += run.length;
        continue;
      }
      flush();
      let code = text.slice(i + run.length, close).replace(/\n/g, ' ');
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') code = code.slice(1, -1);
      out.push(html`<code>${code}</code>`);
      i = close + run.length;
      continue;
    }
    if (ch === '[' && depth < MAX_DEPTH) {
      if (bracket <= i) bracket = text.indexOf(']', i + 1);
      const link = bracket < 0 ? null : linkAt(text, i, bracket);
      if (link) {
        flush();
        out.push(anchor(link.href, inline(link.label, depth + 1)));
        i = link.end;
        continue;
      }
      plain += ch;
      i++;
      continue;
    }
    const auto = ch === '<' ? AUTOLINK.exec(rest) : null;
    if (auto) {
      flush();
      out.push(anchor(auto[1]!, [auto[1]!]));
      i += auto[0].length;
      continue;
    }
    const bare = ch === 'h' && !/\w/.test(text[i - 1] ?? '') ? BARE_URL.exec(rest) : null;
    if (bare) {
      flush();
      out.push(anchor(bare[0], [bare[0]]));
      i += bare[0].length;
      continue;
    }
    if ((ch === '*' || ch === '_') && depth < MAX_DEPTH) {
      const run = text.startsWith(ch + ch, i) ? ch + ch : ch;
      const emphasis = exhausted.has(run) ? null : emphasisAt(text, i, run);
      if (emphasis === 'none') exhausted.add(run);
      else if (emphasis) {
        flush();
        const content = inline(emphasis.content, depth + 1);
        out.push(run.length === 2 ? html`<strong>${content}</strong>` : html`<em>${content}</em>`);
        i = emphasis.end;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }
    plain += ch;
    i++;
  }
  flush();
  return out;
}

/** Where the backtick run closing a code span opened by `run` starts (a run of exactly that length), or -1. */
function closingBackticks(text: string, from: number, run: string): number {
  for (let at = text.indexOf(run, from); at >= 0; at = text.indexOf(run, at + 1)) {
    let end = at + run.length;
    if (text[end] !== '`' && text[at - 1] !== '`') return at;
    while (text[end] === '`') end++;
    at = end - 1;
  }
  return -1;
}

/** `[label](target)` with its `[` at `start` and its `]` at `close`; null when they make no link. */
function linkAt(text: string, start: number, close: number): { label: string; href: string; end: number } | null {
  if (text.lastIndexOf('[', close) !== start) return null; // an inner `[` opens the link, if any
  const target = /^\(\s*(<[^<>\n]*>|[^\s()]*)(?:\s+"[^"\n]*")?\s*\)/.exec(text.slice(close + 1, close + 2100));
  if (!target) return null;
  const href = target[1]!.startsWith('<') ? target[1]!.slice(1, -1) : target[1]!;
  return { label: text.slice(start + 1, close), href, end: close + 1 + target[0].length };
}

/** `*x*`, `**x**`, `_x_`, `__x__` at `start` (no blank just inside the delimiters; `_` not inside a word). */
function emphasisAt(text: string, start: number, run: string): { content: string; end: number } | null | 'none' {
  if (run[0] === '_' && /[\p{L}\p{N}]/u.test(text[start - 1] ?? '')) return null;
  const from = start + run.length;
  if (/\s/.test(text[from] ?? ' ')) return null;
  for (let close = text.indexOf(run, from + 1); ; close = text.indexOf(run, close + 1)) {
    if (close < 0) return 'none';
    if (/\s/.test(text[close - 1]!)) continue;
    if (text[close + run.length] === run[0]) continue;
    if (run[0] === '_' && /[\p{L}\p{N}]/u.test(text[close + run.length] ?? '')) continue;
    return { content: text.slice(from, close), end: close + run.length };
  }
}

/** A link to `target` when it is http(s) or relative; otherwise the label alone, as text. */
function anchor(target: string, label: HtmlValue[]): Html {
  const href = linkTarget(target);
  return href === null ? html`${label}` : html`<a href="${href}" rel="nofollow noopener noreferrer">${label}</a>`;
}

/**
 * The target as an href, or null when it names a scheme other than http(s). Browsers ignore control characters and
 * blanks inside a scheme (`java\tscript:`), so those go before the check.
 */
export function linkTarget(target: string): string | null {
  // eslint-disable-next-line no-control-regex
  const cleaned = target.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (cleaned === '') return null;
  const scheme = /^([^/?#]*):/.exec(cleaned);
  if (scheme) return /^https?$/i.test(scheme[1]!) ? cleaned : null;
  return cleaned;
}
