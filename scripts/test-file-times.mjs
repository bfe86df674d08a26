// Test reporter for scripts/run-tests.mjs: how long each test file ran, from its first to its last event (node 20's
// TAP has no per-file entry). One "seconds<TAB>file" line per file, so the summary can show where the suite's time goes.
export default async function* fileTimes(source) {
  const spans = new Map();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const now = Date.now();
    const span = spans.get(file) ?? { first: now, last: now };
    span.last = now;
    spans.set(file, span);
  }
  for (const [file, span] of spans) yield `${((span.last - span.first) / 1000).toFixed(1)}\t${file}\n`;
}
