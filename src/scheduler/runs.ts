import { randomUUID } from "node:crypto";
import { InvalidArgumentError } from "../errors/index.js";
import type { Dispatcher, RunRequest } from "./dispatcher.js";
import type {
  GatewayRequest,
  GatewayResponse,
  RunRequestOptions,
  SessionSlots,
  TxnMethod,
} from "../protocol/index.js";

/** What a read-atomic run starts with: the session to carry, or an earlier attempt's result. */
export type RunTxnStart = { session: SessionSlots } | { result: Uint8Array };

/**
 * Transactions, as the scheduler needs them (implemented by src/txn, passed in so that
 * scheduler/ does not import it): the start of read-atomic runs and the `txn.*` methods.
 */
export interface RunTransactions {
  /** Longest a read-atomic run may take (the cluster's `maxTxnMs`). */
  readonly maxTxnMs: number;
  /**
   * Starts (or finds the committed result of) the read-atomic run of request `requestId`;
   * `retry`: the client marked this send as a retry of the request.
   */
  begin(requestId: string, dag: string, retry: boolean): Promise<RunTxnStart>;
  /** Answers `txn.begin`, `txn.read`, `txn.abort` and `txn.commit` (payloads already checked). */
  handle<M extends TxnMethod>(method: M, p: GatewayRequest<M>): Promise<GatewayResponse<M>>;
}

/**
 * Where every run starts, whatever started it (a client through the gateway, HTTP, a schedule's
 * tick, a dataflow): a `read-atomic` run becomes one transaction named after its request id, so
 * a repeated request returns the result its first attempt committed instead of running again.
 *
 * @example
 * ```ts
 * const runs = new RunStarter(dispatcher, txnService);
 * await runs.run({ def, inputs }, { consistency: "read-atomic", requestId: "tick:7" });
 * ```
 */
export class RunStarter {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly txn: RunTransactions | undefined,
  ) {}

  /** The level a request runs at. */
  level(req: RunRequest, options: RunRequestOptions): string {
    return options.consistency ?? req.def.consistency ?? "lww";
  }

  /**
   * Readies `req` to run with `options` (which it completes): a read-atomic run gets its
   * transaction, or the result an earlier attempt of the same request committed. Its deadline
   * defaults to `maxTxnMs`, and a longer one is refused: a transaction older than that can no
   * longer commit.
   */
  async prepare(
    req: RunRequest,
    options: RunRequestOptions,
  ): Promise<{ result: Uint8Array } | undefined> {
    req.options = options;
    if (this.level(req, options) !== "read-atomic") return undefined;
    const txn = this.transactions();
    if (options.timeoutMs === undefined) options.timeoutMs = txn.maxTxnMs;
    else if (options.timeoutMs > txn.maxTxnMs) {
      throw InvalidArgumentError.field(
        "timeoutMs",
        `a read-atomic run may take at most ${txn.maxTxnMs} ms (the cluster's maxTxnMs, ` +
          `set with --max-txn-ms); asked for ${options.timeoutMs} ms`,
      );
    }
    const started = await txn.begin(
      options.requestId ?? randomUUID(),
      req.def.name,
      options.retry === true,
    );
    if ("result" in started) return started;
    req.session = { ...req.session, ...started.session };
    return undefined;
  }

  /** Prepares and runs `req` to completion. */
  async run(req: RunRequest, options: RunRequestOptions): Promise<Uint8Array> {
    const done = await this.prepare(req, options);
    return done?.result ?? this.dispatcher.run(req);
  }

  transactions(): RunTransactions {
    if (this.txn === undefined) {
      throw new InvalidArgumentError("this scheduler does not run transactions");
    }
    return this.txn;
  }
}
