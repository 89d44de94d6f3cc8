/**
 * A bounded shutdown. Closing a process says goodbye to storage (it deletes its heartbeat and
 * statistics records, releases its lease, unsubscribes), and with storage down or stalled each
 * of those waits for the store's own operation timeout, one after another: tens of seconds
 * before a SIGTERM took effect. A close budget puts one deadline on all of them.
 */

/**
 * The deadline of one close. Steps that touch storage are awaited through {@link step}; once
 * the budget is spent, `expire` runs once (the process closes its own store, so every storage
 * operation still pending, and every later one, fails at once and the steps finish on their
 * own), and a step still waiting is no longer awaited.
 *
 * @example
 * ```ts
 * const budget = new CloseBudget(2_000, () => store.close());
 * await budget.step(stats.close()); // at most the 2 s left
 * budget.done();
 * ```
 */
export class CloseBudget {
  private readonly expired: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private spent = false;

  constructor(ms: number, expire?: () => unknown) {
    this.expired = new Promise<void>((resolve) => {
      this.timer = setTimeout(() => {
        this.spent = true;
        try {
          // The store's close settles by itself; nothing here waits for it.
          void Promise.resolve(expire?.()).catch(() => undefined);
        } finally {
          resolve();
        }
      }, ms);
    });
  }

  /** Whether the deadline passed. */
  get isSpent(): boolean {
    return this.spent;
  }

  /**
   * Waits for `work` until the deadline. Its failure is the caller's when it comes in time;
   * past the deadline it is swallowed, as nobody waits for it any more.
   */
  async step(work: Promise<unknown> | undefined): Promise<void> {
    if (work === undefined) return;
    const outcome = await Promise.race([
      work.then(
        () => ({ ok: true as const }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
      this.expired.then(() => ({ ok: true as const })),
    ]);
    if (!outcome.ok) throw outcome.e;
  }

  /** Ends the budget (clears its timer). */
  done(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * What a start has started so far, to be closed again, last first, should a later step fail:
 * a start that fails leaves nothing listening, running or subscribed behind it.
 *
 * @example
 * ```ts
 * const started = new StartedParts();
 * const server = await WireServer.listen(options);
 * started.add(() => server.close());
 * try {
 *   await Node.start(nodeOptions); // fails
 * } catch (e) {
 *   await started.undo(2_000); // the server is closed
 *   throw e;
 * }
 * ```
 */
export class StartedParts {
  private readonly closers: (() => unknown)[] = [];
  /** Parts still starting: an undo waits for them, to close those that do start. */
  private readonly pending: Promise<unknown>[] = [];

  /** Notes how to close a part that has started. */
  add(close: () => unknown): void {
    this.closers.push(close);
  }

  /**
   * Notes a part that is still starting (parts that start side by side): once it has started,
   * it is closed like any other. Returns `part`.
   */
  starting<T>(part: Promise<T>, close: (started: T) => unknown): Promise<T> {
    const noted = part.then((p) => {
      this.add(() => close(p));
      return p;
    });
    this.pending.push(noted.catch(() => undefined));
    return noted;
  }

  /**
   * Closes every part noted, last first. A part that fails to close does not stop the others
   * (the caller has the start's own error to report). Parts that wait on storage wait at most
   * `budgetMs` in all, as in a process's close; past it `expire` runs (see {@link CloseBudget}).
   */
  async undo(budgetMs: number, expire?: () => unknown): Promise<void> {
    await Promise.all(this.pending);
    const budget = new CloseBudget(budgetMs, expire);
    try {
      for (const close of this.closers.splice(0).reverse()) {
        await budget.step(Promise.resolve().then(close)).catch(() => undefined);
      }
    } finally {
      budget.done();
    }
  }
}
