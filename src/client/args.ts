/**
 * How the client puts a call's arguments on the wire and reads the gateway's answers: arguments
 * encoded (big typed arrays spliced, not copied), references collected, results and future ids
 * told apart, and the checks a request gets before it leaves.
 */
import { InvalidArgumentError, StratusError } from "../errors/index.js";
import { encodeValue, valueHeader } from "../lattice/index.js";
import { ByteParts, SPLICE_MIN_BYTES } from "../wire/index.js";
import { MAX_CONCURRENCY } from "../protocol/index.js";
import { isRef } from "./ref.js";

/** A request as this client sends it: big bytes may go as parts spliced into the frame. */
export type Outgoing<T> = T extends Uint8Array
  ? Arg
  : T extends object
    ? { [K in keyof T]: Outgoing<T[K]> }
    : T;

/** The result of a call sent without `future`. */
export function result(out: Uint8Array | { future: string }): Uint8Array {
  if (out instanceof Uint8Array) return out;
  throw new StratusError(
    "INTERNAL",
    "the gateway answered a call with a future it did not ask for",
  );
}

/** The future's id, from a call sent with `future: true`. */
export function futureId(out: Uint8Array | { future: string }): string {
  if (!(out instanceof Uint8Array)) return out.future;
  throw new StratusError("INTERNAL", "the gateway answered a future call with a result");
}

/** An encoded argument: its bytes, or for a big tensor its header and the caller's memory. */
export type Arg = Uint8Array | ByteParts;

/**
 * A top-level Buffer or typed array of 64 KiB or more is not copied: it goes to the socket as its
 * encoding's few header bytes and the caller's own memory, as node:http's `req.end(buf)` does.
 */
export function encodeArg(a: unknown): Arg {
  const head = valueHeader(a);
  if (head === undefined) return encodeValue(a);
  const v = a as ArrayBufferView;
  if (v.byteLength < SPLICE_MIN_BYTES) return encodeValue(a);
  return new ByteParts([
    Uint8Array.from(head),
    new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
  ]);
}

export function encodeArgs(args: unknown[]): { encoded: Arg[]; refs: string[] } {
  if (!Array.isArray(args)) throw new InvalidArgumentError("args must be an array");
  const refs: string[] = [];
  const encoded = args.map((a) => {
    if (isRef(a)) refs.push(a.$stratusRef);
    return encodeArg(a);
  });
  return { encoded, refs };
}

/** A schedule's arguments are stored once and sent at every tick, so references are refused. */
export function scheduledArgs(args: unknown[]): Arg[] {
  const { encoded, refs } = encodeArgs(args);
  if (refs.length > 0) {
    throw new InvalidArgumentError("scheduled arguments cannot hold references (ref())");
  }
  return encoded;
}

/** A function's concurrency, checked here as its time limit is (see below). */
export function checkConcurrency(name: string, n: unknown): void {
  if (n === undefined) return;
  if (!(Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_CONCURRENCY)) {
    throw new InvalidArgumentError(
      `${name}: concurrency must be an integer from 1 to ${MAX_CONCURRENCY}, not ${typeof n === "number" ? n : typeof n}`,
    );
  }
}

/**
 * A function's time limit is a finite number of milliseconds above zero. Checked here so the
 * caller learns at once; the gateway checks again, and every node clamps it to its own cap.
 */
export function checkTimeout(name: string, timeoutMs: unknown): void {
  if (timeoutMs === undefined) return;
  if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || !(timeoutMs > 0)) {
    throw new InvalidArgumentError(
      `${name}: timeoutMs must be a finite positive number of milliseconds, not ${typeof timeoutMs === "number" ? timeoutMs : typeof timeoutMs}`,
    );
  }
}
