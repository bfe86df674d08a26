import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkTarget, renderMarkdown } from './markdown.js';

const md = (text: string): string => renderMarkdown(text).toString().replace(/^<div class="markdown">|<\/div>$/g, '');

test('blocks: headings one level down, paragraphs, lists (nested, numbered), code, quotes, rules', () => {
  assert.equal(md('# Title\n\nSome text\non two lines.'), '<h2>Title</h2><p>Some text\non two lines.</p>');
  assert.equal(md('- one\n- two\n  - nested\n- three'), '<ul><li>one</li><li>two<ul><li>nested</li></ul></li><li>three</li></ul>');
  assert.equal(md('3. c\n4. d'), '<ol start="3"><li>c</li><li>d</li></ol>');
  assert.equal(md('1. a\n\n2. b'), '<ol><li><p>a</p></li><li><p>b</p></li></ol>');
  assert.equal(md('```sh\ndocker run <x> && echo "hi"\n```'), '<pre><code>docker run &lt;x&gt; &amp;&amp; echo &quot;hi&quot;</code></pre>');
  assert.equal(md('    indented\n    code'), '<pre><code>indented\ncode</code></pre>');
  assert.equal(md('> quoted *text*'), '<blockquote><p>quoted <em>text</em></p></blockquote>');
  assert.equal(md('a\n\n---\n\nb'), '<p>a</p><hr><p>b</p>');
});

test('inline: code, emphasis, strong, links, autolinks, escapes; snake_case stays', () => {
  assert.equal(md('Use `docker pull` **now**, *please*: [docs](https://example.com/d "Docs").'),
    '<p>Use <code>docker pull</code> <strong>now</strong>, <em>please</em>: <a href="https://example.com/d" rel="nofollow noopener noreferrer">docs</a>.</p>');
  assert.equal(md('see https://example.com/x. and <http://a.example/b>'),
    '<p>see <a href="https://example.com/x" rel="nofollow noopener noreferrer">https://example.com/x</a>. and <a href="http://a.example/b" rel="nofollow noopener noreferrer">http://a.example/b</a></p>');
  assert.equal(md('[relative](./docs/setup.md) and [anchor](#usage)'),
    '<p><a href="./docs/setup.md" rel="nofollow noopener noreferrer">relative</a> and <a href="#usage" rel="nofollow noopener noreferrer">anchor</a></p>');
  assert.equal(md('snake_case_name and 2 * 3 * 4 and \\*not em\\*'), '<p>snake_case_name and 2 * 3 * 4 and *not em*</p>');
});

test('raw HTML is text, script links are text, nothing else becomes markup', () => {
  assert.equal(md('<script>alert(1)</script>'), '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  assert.equal(md('<img src=x onerror=alert(1)>'), '<p>&lt;img src=x onerror=alert(1)&gt;</p>');
  assert.equal(md('[click](javascript:alert(1))'), '<p>[click](javascript:alert(1))</p>');
  assert.equal(md('[click](javascript:alert%281%29)'), '<p>click</p>');
  assert.equal(md('[x](<java\tscript:alert(1)>) [y](data:text/html,hi) [z](JAVASCRIPT:x)'), '<p>x y z</p>');
  assert.equal(md('[a "quote"](https://e.example/?q="><b>)'), '<p><a href="https://e.example/?q=&quot;&gt;&lt;b&gt;" rel="nofollow noopener noreferrer">a &quot;quote&quot;</a></p>');
  assert.equal(md('![pic](https://tracker.example/p.png)'), '<p>!<a href="https://tracker.example/p.png" rel="nofollow noopener noreferrer">pic</a></p>');
  assert.equal(linkTarget(' \u0000javascript:x'), null);
  assert.equal(linkTarget('HTTPS://e.example'), 'HTTPS://e.example');
});

test('pathological input stays fast: unmatched delimiters and deep nesting', () => {
  const started = Date.now();
  for (const text of ['*a'.repeat(10_000), '['.repeat(20_000), '`'.repeat(20_000), '> '.repeat(5_000), '- '.repeat(5_000), '_a '.repeat(6_000)]) {
    assert.ok(renderMarkdown(text).toString().length > 0);
  }
  assert.ok(Date.now() - started < 5_000, 'rendered in well under 5 s');
});
