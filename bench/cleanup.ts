/**
 * Everything the benchmark starts or creates registers its undo step here, so servers are killed and temp dirs
 * removed on success, on a thrown error and on Ctrl-C alike. Steps run in reverse order (servers stop before their
 * data directories go) and one failing step never skips the others.
 */
export class Cleanup {
  readonly #steps: { label: string; run: () => Promise<void> | void }[] = [];
  #ran = false;

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
   * Ctrl-C or a kill of the bench must not leave registries running. Children that share our process group get
   * the terminal's SIGINT too; the explicit stop steps cover a SIGTERM sent to the bench alone.
   */
  onSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        process.stderr.write(`\n${signal}: stopping servers and removing temp files…\n`);
        void this.run().finally(() => process.exit(130));
      });
    }
  }
}
