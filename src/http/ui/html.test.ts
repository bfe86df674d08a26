import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, html, raw, safeUrl } from './html.js';

test('interpolated text is escaped, in text and in quoted attributes', () => {
  const label = '<script>alert(1)</script>';
  const attr = '"><img src=x onerror=alert(1)>';
  assert.equal(String(html`<p title="${attr}">${label}</p>`),
    '<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  assert.equal(escapeHtml(`&'\``), '&amp;&#39;&#96;');
});

test('fragments nest, arrays join, and nothing renders for null, undefined and booleans', () => {
  const items = ['a<b', 'c'].map((x) => html`<li>${x}</li>`);
  assert.equal(String(html`<ul>${items}</ul>`), '<ul><li>a&lt;b</li><li>c</li></ul>');
  assert.equal(String(html`${null}${undefined}${false}${true}|${0}|${12n}`), '|0|12');
  assert.equal(String(html`${raw('<br>')}`), '<br>');
});

test('safeUrl keeps http(s) links only', () => {
  assert.equal(safeUrl('https://github.com/acme/app'), 'https://github.com/acme/app');
  assert.equal(safeUrl('javascript:alert(1)'), '#');
  assert.equal(safeUrl('JaVaScRiPt:alert(1)'), '#');
  assert.equal(safeUrl('data:text/html,x'), '#');
  assert.equal(safeUrl('/relative'), '#');
  assert.equal(safeUrl(null), '#');
});
