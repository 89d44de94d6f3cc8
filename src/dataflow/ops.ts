/**
 * The plain description of a flow's operators: what the builder records, the optimizer rewrites
 * and the compiled stage functions interpret. JSON-safe, so it ships inside a function's source.
 */
import type { Schema } from "./schema.js";

/** Aggregates of `groupby(column).agg(…)`. */
export type AggFn = "count" | "sum" | "min" | "max" | "avg";

/** Join kinds. `left` keeps unmatched left rows, `outer` unmatched rows of both sides. */
export type JoinKind = "inner" | "left" | "outer";

/** Operator kinds; `route` is the optimizer's locality split (never written by users). */
export type OpKind =
  "input" | "map" | "filter" | "agg" | "join" | "lookup" | "union" | "anyof" | "route";

/** Per-operator hints for the autoscaler, kept in the deployed app's metadata. */
export interface ScalingHints {
  /** Resource class the operator needs (`"cpu"`, `"gpu"`, …). Stages of different classes are never fused. */
  resource?: string;
  minReplicas?: number;
  maxReplicas?: number;
  /** Invocations one executor should hold before the autoscaler adds another. */
  targetConcurrency?: number;
}

/** One operator. `ins` name operators of the same group, or `$k`: the group's k-th argument. */
export interface OpSpec {
  id: string;
  kind: OpKind;
  ins: string[];
  /** map: the declared output schema. */
  schema?: Schema;
  /** map: receives all rows at once. */
  batch?: boolean;
  /** map, filter, dynamic lookup: the operator has user code (its key function, for lookup). */
  fn?: boolean;
  /** map, filter: the operator has an `init`, whose result is its `ctx.state`. */
  init?: boolean;
  /** agg: group column, aggregate and aggregated column. */
  by?: string;
  agg?: AggFn;
  col?: string;
  /** join: column (absent: the row id) and kind. */
  on?: string;
  how?: JoinKind;
  /** lookup: static key (absent: `fn` computes it per row) and the new column. */
  key?: string;
  as?: string;
  /** lookup: the head of a locality continuation (its rows were routed to the key's node). */
  pre?: boolean;
  /** route: the continuation function, called per key on the node caching it; `of` is the lookup. */
  target?: string;
  of?: string;
  /** Optimizer marks (ignored at run time). */
  highVariance?: boolean;
  replicas?: number;
  fuse?: boolean;
  hints?: ScalingHints;
}

/** What one compiled function runs: operators in an order where each follows its inputs. */
export interface GroupSpec {
  ops: OpSpec[];
  /** The operator whose table is the function's result. */
  exit: string;
}

/**
 * Rows in flight between stages, column-wise: `q` the request each row belongs to (requests
 * batched together share a table), `i` the row id (a join on the row id matches it), `r` the rows.
 */
export interface Table {
  q: number[];
  i: (string | number)[];
  r: Record<string, unknown>[];
}
