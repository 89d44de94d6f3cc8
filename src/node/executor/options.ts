/** The executor pool's options, checked and defaulted once. */
import { availableParallelism } from "node:os";
import type { ResourceLimits } from "node:worker_threads";
import { InvalidArgumentError } from "../../errors/index.js";
import { positiveFinite } from "./calls.js";
import type { ExecutorPoolOptions } from "./types.js";

/**
 * The pool's defaults, read by whoever restates them (the `stratus` flags, the process): each
 * field's meaning is documented on {@link ExecutorPoolOptions}.
 */
export const POOL_DEFAULTS = {
  /** Time limit of a call whose code sets none (`defaultTimeoutMs`). */
  defaultTimeoutMs: 60_000,
  /** The cap on every call's time limit (`maxTimeoutMs`): 15 minutes, as on AWS Lambda. */
  maxTimeoutMs: 900_000,
  /** Each worker's heap limit, `resourceLimits.maxOldGenerationSizeMb`. */
  maxOldGenerationSizeMb: 512,
  /** Calls handed to a worker ahead of its current one (`pipelineDepth`). */
  pipelineDepth: 4,
  /** How long a cancelled or timed-out call has to settle (`cancelGraceMs`). */
  cancelGraceMs: 1000,
  /** Each worker's cache of stored values (`valueCacheBytes`). */
  valueCacheBytes: 128 * 1024 * 1024,
  /** Concurrency of a function that sets none (`defaultConcurrency`); see notes/runtime.md. */
  concurrency: 8,
  /** The most invocations one worker runs at once (`maxConcurrency`). */
  maxConcurrency: 16,
} as const;

/** {@link ExecutorPoolOptions} with every default filled in (see each field's doc there). */
export interface ResolvedPoolOptions {
  maxExtra: number;
  depth: number;
  maxTimeoutMs: number;
  defaultTimeoutMs: number;
  bootConcurrency: number;
  cancelGraceMs: number;
  valueCacheBytes: number;
  /** Per invocation, as given (error messages quote them). */
  limits: ResourceLimits;
  externalMb: number;
  /** What a worker is started with: the heap limit scaled by `maxConcurrency`. */
  workerLimits: ResourceLimits;
  defaultConcurrency: number;
  maxConcurrency: number;
}

export const positiveInt = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;

/** Checks every option, throwing `INVALID_ARGUMENT` naming the bad one, and fills in defaults. */
export function resolvePoolOptions(opts: ExecutorPoolOptions): ResolvedPoolOptions {
  if (!positiveInt(opts.size)) throw InvalidArgumentError.field("size", "must be an integer ≥ 1");
  const extra = opts.maxExtraWorkers ?? Math.max(8, 2 * opts.size);
  if (!Number.isInteger(extra) || extra < 0) {
    throw InvalidArgumentError.field("maxExtraWorkers", "must be an integer ≥ 0");
  }
  const depth = opts.pipelineDepth ?? POOL_DEFAULTS.pipelineDepth;
  if (!positiveInt(depth)) throw InvalidArgumentError.field("pipelineDepth", "must be ≥ 1");
  const max = opts.maxTimeoutMs ?? POOL_DEFAULTS.maxTimeoutMs;
  if (!positiveFinite(max)) throw InvalidArgumentError.field("maxTimeoutMs", "must be > 0");
  const timeout = opts.defaultTimeoutMs ?? Math.min(POOL_DEFAULTS.defaultTimeoutMs, max);
  if (!positiveFinite(timeout)) {
    throw InvalidArgumentError.field("defaultTimeoutMs", "must be > 0");
  }
  const boots = opts.bootConcurrency ?? Math.max(2, availableParallelism());
  if (!positiveInt(boots)) throw InvalidArgumentError.field("bootConcurrency", "must be ≥ 1");
  const grace = opts.cancelGraceMs ?? POOL_DEFAULTS.cancelGraceMs;
  if (!positiveFinite(grace)) throw InvalidArgumentError.field("cancelGraceMs", "must be > 0");
  const rl = opts.resourceLimits ?? {};
  const limits: ResourceLimits = {
    maxOldGenerationSizeMb: rl.maxOldGenerationSizeMb ?? POOL_DEFAULTS.maxOldGenerationSizeMb,
  };
  if (rl.maxYoungGenerationSizeMb !== undefined) {
    limits.maxYoungGenerationSizeMb = rl.maxYoungGenerationSizeMb;
  }
  if (rl.stackSizeMb !== undefined) limits.stackSizeMb = rl.stackSizeMb;
  const externalMb =
    opts.maxExternalMemoryMb ??
    limits.maxOldGenerationSizeMb ??
    POOL_DEFAULTS.maxOldGenerationSizeMb;
  if (!positiveFinite(externalMb)) {
    throw InvalidArgumentError.field("maxExternalMemoryMb", "must be > 0");
  }
  const maxConc = opts.maxConcurrency ?? POOL_DEFAULTS.maxConcurrency;
  if (!positiveInt(maxConc)) throw InvalidArgumentError.field("maxConcurrency", "must be ≥ 1");
  const conc = opts.defaultConcurrency ?? Math.min(POOL_DEFAULTS.concurrency, maxConc);
  if (!positiveInt(conc)) throw InvalidArgumentError.field("defaultConcurrency", "must be ≥ 1");
  const heapMb = limits.maxOldGenerationSizeMb ?? POOL_DEFAULTS.maxOldGenerationSizeMb;
  return {
    maxExtra: extra,
    defaultConcurrency: Math.min(conc, maxConc),
    maxConcurrency: maxConc,
    workerLimits: { ...limits, maxOldGenerationSizeMb: heapMb * maxConc },
    depth,
    maxTimeoutMs: max,
    defaultTimeoutMs: Math.min(timeout, max),
    bootConcurrency: boots,
    cancelGraceMs: grace,
    valueCacheBytes: opts.valueCacheBytes ?? POOL_DEFAULTS.valueCacheBytes,
    limits,
    externalMb,
  };
}
