/**
 * Everything the benchmark starts or creates registers its undo step here, so servers are killed and temp dirs
 * removed on success, on a thrown error and on Ctrl-C alike. Steps run in reverse order (servers stop before their
 * data directories go) and one failing step never skips the others.
 */
export class Cleanup {
  readonly #steps: { label: string; run: () => Promise<void> | void }[] = [];
  #ran = false;
  /** Set once a signal started the cleanup; the failures it causes in the running step are no news then. */
  interrupted = false;

  add(label: string, run: () => Promise<void> | void): void {
    this.#steps.push({ label, run });
  }

  async run(): Promise<void> {
    if (this.#ran) return;
    this.#ran = true;
    for (const step of this.#steps.reverse()) {
      try {
        await step.run();
      } catch (err) {
        process.stderr.write(`cleanup: ${step.label} failed: ${(err as Error).message}\n`);
      }
    }
  }

  /**
   * Ctrl-C, a kill of the bench or an error thrown outside the awaited chain must not leave registries running.
   * Children sharing our process group get the terminal's SIGINT too; these handlers cover the rest.
   */
  installHandlers(): void {
    const stopAndExit = (code: number): void => {
      void this.run().finally(() => process.exit(code));
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        this.interrupted = true;
        process.stderr.write(`\n${signal}: stopping servers and removing temp files…\n`);
        stopAndExit(130);
      });
    }
    process.once('uncaughtException', (err) => {
      process.stderr.write(`bench crashed: ${err.stack ?? String(err)}\n`);
      stopAndExit(1);
    });
    // `npm run bench | head` closes our stdout early: keep measuring and cleaning up rather than crash on EPIPE.
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
  }
}
