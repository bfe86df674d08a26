// Test reporter for scripts/run-tests.mjs, beside the spec reporter people read: the run's counts (the runner's
// closing "tests N", "pass N"… diagnostics) and how long each test file's process ran (from its dequeue to its
// complete event, both named after the file), so the summary can show where the suite's time goes. Lines:
// "count<TAB>name<TAB>N" and "file<TAB>seconds<TAB>path".
const COUNTS = /^(tests|pass|fail|skipped|todo|cancelled) (\d+)$/;

export default async function* reportFacts(source) {
  const started = new Map();
  for await (const event of source) {
    const { type, data } = event;
    if (type === 'test:diagnostic' && data.nesting === 0) {
      const m = COUNTS.exec(data.message);
      if (m) yield `count\t${m[1]}\t${m[2]}\n`;
    } else if (data?.file && data.name === data.file) {
      if (type === 'test:dequeue') started.set(data.file, Date.now());
      else if (type === 'test:complete' && started.has(data.file)) yield `file\t${((Date.now() - started.get(data.file)) / 1000).toFixed(1)}\t${data.file}\n`;
    }
  }
}
