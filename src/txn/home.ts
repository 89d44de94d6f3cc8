import { InvalidArgumentError, NodeLostError, isStratusError } from "../errors/index.js";
import { decodeLattice, encodeLattice, isTimestamp } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import { HOME_METHODS } from "../protocol/index.js";
import type { HomeRead, HomeRelease } from "../protocol/index.js";
import type { Peers } from "../scheduler/index.js";
import { snapshotId } from "./local.js";
import type { TxnManager } from "./manager.js";
import type { TxnBackend, WireReadRequest } from "./transaction.js";

/** Longest wait for a read at a run's home node. */
const HOME_TIMEOUT_MS = 10_000;

/** What a run's reads need to reach its home. */
export interface HomeEnv {
  nodeId: string;
  peers: Peers;
  clock: HybridClock;
}

/**
 * The backend of one read-atomic run on one node: reads go to the run's home node (in this
 * process when the home is here, else a `txn.home.read` request), commits are this node's (the
 * sink's). Every node of the run thus reads one snapshot.
 *
 * @example
 * ```ts
 * const local = localBackend(mgr, clock); // once per node: it holds nothing of a run
 * const backend = runBackend(local, env, ["n1", "stratus://10.0.0.1:7400"], meta.deadline);
 * ```
 */
export function runBackend(
  local: TxnBackend,
  env: HomeEnv,
  home: readonly [node: string, addr: string],
  deadline: number,
): TxnBackend {
  if (home[0] === env.nodeId) {
    const ip = local.inProcess!;
    return {
      ...local,
      inProcess: { read: (r) => ip.read({ ...r, deadline }), commit: ip.commit },
    };
  }
  const [node, addr] = home;
  const remoteRead = async (r: WireReadRequest): Promise<Uint8Array | null> => {
    const msg: HomeRead = {
      s: snapshotId(r.tid, r.epoch),
      k: r.key,
      st: r.start,
      d: deadline,
      n: r.n,
    };
    let out: unknown;
    try {
      const conn = await env.peers.get(addr);
      const timeoutMs = Math.max(1, Math.min(HOME_TIMEOUT_MS, deadline - Date.now()));
      out = await conn.request(HOME_METHODS.read, msg, { timeoutMs });
    } catch (e) {
      // The home's own answer (a conflict, an abort) is the run's; an unreachable home is a
      // lost node, and the run starts again elsewhere.
      if (isStratusError(e) && e.code !== "TIMEOUT" && e.code !== "CLOSED") throw e;
      throw new NodeLostError(`the home node ${node} of this read-atomic run is unreachable`, {
        cause: e,
        details: { node },
      });
    }
    if (out !== null && !(out instanceof Uint8Array)) {
      throw new NodeLostError(`the home node ${node} answered a read with no value`, {
        details: { node },
      });
    }
    return out;
  };
  return {
    begin: local.begin,
    read: remoteRead,
    commit: local.commit,
    release: (tid, epoch) => {
      const m: HomeRelease = { s: snapshotId(tid, epoch) };
      env.peers.notify(addr, HOME_METHODS.release, m);
      return Promise.resolve();
    },
    inProcess: {
      read: async (r) => {
        const v = await remoteRead(r);
        return v === null ? undefined : decodeLattice(v);
      },
      commit: local.inProcess!.commit,
    },
  };
}

/** Serves a home read or release from another node of a run; undefined for other methods. */
export function serveHome(mgr: TxnManager, method: string, payload: unknown): unknown {
  if (method === HOME_METHODS.release) {
    mgr.release((payload as HomeRelease).s);
    return null;
  }
  if (method !== HOME_METHODS.read) return undefined;
  const p = payload as HomeRead;
  if (!isTimestamp(p.st))
    return Promise.reject(InvalidArgumentError.field("st", "must be a timestamp"));
  return mgr
    .read({ id: p.s, start: p.st, deadline: p.d, readsBefore: p.n }, p.k)
    .then((l) => (l === undefined ? null : encodeLattice(l)));
}
