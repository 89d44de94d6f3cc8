import type {
  DagDef,
  FunctionInfo,
  GatewayMethod,
  GatewayRequest,
  GatewayResponse,
} from "../protocol/index.js";

/** Sends one gateway request (the client's own rpc). */
type AdminRpc = <M extends GatewayMethod>(
  method: M,
  payload: GatewayRequest<M>,
) => Promise<GatewayResponse<M>>;

/**
 * What is registered, and removing it; cancelling runs. Reached as `cloud.admin`; the CLI's
 * `fn`, `dag` and `runs` commands are built on it.
 *
 * @example
 * ```ts
 * (await cloud.admin.functions()).map((f) => f.name); // ["double", "inc"]
 * await cloud.admin.describeFunction("inc"); // { name, kind, version, dags: ["pipeline"], … }
 * await cloud.admin.removeDag("pipeline"); // true
 * await cloud.admin.cancelRun(futureId); // its caller gets CANCELLED
 * ```
 */
export class ClusterAdmin {
  /** @internal Built by the client with its own rpc. */
  constructor(private readonly rpc: AdminRpc) {}

  /** Every registered function, by name (their sources' sizes, not the sources). */
  functions(): Promise<FunctionInfo[]> {
    return this.rpc("fn.list", {});
  }

  /** One function, with the DAGs that name it; `NO_SUCH_FUNCTION` when none is registered. */
  describeFunction(name: string): Promise<FunctionInfo> {
    return this.rpc("fn.describe", { name });
  }

  /**
   * Removes a function; false when none was registered. `INVALID_ARGUMENT` while a DAG names
   * it (remove the DAG first). Runs already started finish.
   */
  async removeFunction(name: string): Promise<boolean> {
    return (await this.rpc("fn.remove", { name })).removed;
  }

  /** Every registered DAG, by name. */
  dags(): Promise<DagDef[]> {
    return this.rpc("dag.list", {});
  }

  /** One DAG's definition; `NO_SUCH_DAG` when none is registered. */
  describeDag(name: string): Promise<DagDef> {
    return this.rpc("dag.describe", { name });
  }

  /** Removes a DAG; false when none was registered. */
  async removeDag(name: string): Promise<boolean> {
    return (await this.rpc("dag.remove", { name })).removed;
  }

  /**
   * Cancels a run in flight on the scheduler this client is connected to, by the id of the
   * future it was started with (or its run id): its functions are told to stop (their
   * `ctx.signal` aborts) and its caller gets `CANCELLED`. `NOT_FOUND` when no such run is in
   * flight there.
   */
  async cancelRun(id: string): Promise<void> {
    await this.rpc("run.cancel", { id });
  }
}
