/**
 * The main thread's handle on one worker: the invocations posted to it (in order, and which of
 * them run), a batched outbox, a mirror of the worker's code cache and the one timer that
 * enforces their time limits.
 */
import { MessageChannel, Worker } from "node:worker_threads";
import type { MessagePort, ResourceLimits } from "node:worker_threads";
import { CodeCache } from "./code-cache.js";
import { workerEntry } from "./entry.js";
import type { Job } from "./job.js";
import { mayStart } from "./types.js";
import type { DownMsg, PeerMsg, UpMsg } from "./types.js";

/**
 * Connects two workers with a channel of their own, so their messages skip the main thread.
 * Done on demand, for two workers whose invocations message each other: a channel per pair costs
 * milliseconds of the main thread, and a full mesh of 64 workers (2,016 channels) blocked it for
 * seconds while the pool grew.
 */
export function link(a: Slot, b: Slot): void {
  if (a.peers.has(b.num) || a.dead || b.dead) return;
  a.peers.add(b.num);
  b.peers.add(a.num);
  const { port1, port2 } = new MessageChannel();
  a.sendPort(b.num, port1);
  b.sendPort(a.num, port2);
}

/** What a slot reports to its pool. */
export interface SlotEvents {
  message(slot: Slot, m: UpMsg): void;
  /** `expected`: the pool had already killed (or retired) the worker. */
  exit(slot: Slot, expected: boolean): void;
  expired(slot: Slot): void;
}

/** How long a worker asked to exit may take (its in-flight native work) before it is terminated. */
const STOP_FALLBACK_MS = 5000;

// setTimeout's delay is a signed 32-bit number of milliseconds.
const MAX_DELAY = 2 ** 31 - 1;

let slotNumbers = 0;

export class Slot {
  readonly worker: Worker;
  /** Names this worker to the others, for direct messages between them. */
  readonly num = ++slotNumbers;
  /** Posted to the worker and not yet answered, in posting order; some of them run. */
  readonly posted: Job[] = [];
  /** How many of `posted` run. */
  running = 0;
  ready = false;
  retiring = false;
  /** Workers this one has a direct channel to (see `link`). */
  readonly peers = new Set<number>();
  /** Started in place of a lost worker (not to grow the pool): calls wait for its boot. */
  replacement = false;
  /** Set once the worker is being (or has been) terminated: nothing more is posted or expected. */
  dead = false;
  /** The last `error` event, read when the worker exits (out of memory, crash). */
  exitError: Error | undefined;
  /** The worker's exit code, once it has exited. */
  exitCode: number | undefined;
  /** Resolves when the worker answers `ready`; rejects if it exits first. */
  readonly booted: Promise<void>;
  /** Resolves when the worker thread has exited, however. */
  readonly exited: Promise<void>;
  /** The worker's code cache as the worker will hold it: the same class, fed the same keys. */
  private readonly code = new CodeCache<true>();
  private outbox: DownMsg[] = [];
  /** ArrayBuffers that move (not copy) to the worker with the next flush. */
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly events: SlotEvents,
    resourceLimits: ResourceLimits,
    valueCacheBytes: number,
    externalBytes: number,
  ) {
    const data = { valueCacheBytes, externalBytes, num: this.num };
    const { url, entry, execArgv } = workerEntry();
    const workerData = entry === undefined ? data : { ...data, entry };
    this.worker = new Worker(url, { workerData, resourceLimits, execArgv });
    let booted!: () => void;
    let failed!: (e: Error) => void;
    this.booted = new Promise<void>((resolve, reject) => {
      booted = resolve;
      failed = reject;
    });
    // start() and resize() await this; a replacement's boot failure is handled by the pool.
    this.booted.catch(() => undefined);
    this.exited = new Promise((resolve) => {
      this.worker.on("exit", (code) => {
        const expected = this.dead;
        this.dead = true;
        this.exitCode = code;
        this.disarm();
        failed(this.exitError ?? new Error(`executor worker exited with code ${code}`));
        events.exit(this, expected);
        resolve();
      });
    });
    this.worker.on("error", (e) => (this.exitError = e));
    // One message, or the messages of one turn of the worker as an array (worker.ts `post`).
    const one = (m: UpMsg): void => {
      if (!this.ready && !(m instanceof Uint8Array) && m.t === "ready") {
        this.ready = true;
        booted();
      }
      events.message(this, m);
    };
    this.worker.on("message", (m: UpMsg | UpMsg[]) => {
      if (Array.isArray(m)) for (const x of m) one(x);
      else one(m);
    });
  }

  /** The job posted here as invocation `id`. */
  find(id: string): Job | undefined {
    for (const j of this.posted) if (j.call.id === id) return j;
    return undefined;
  }

  /** Takes the job of invocation `id` off the worker (it answered). */
  take(id: string): Job | undefined {
    const i = this.posted.findIndex((j) => j.call.id === id);
    if (i < 0) return undefined;
    const [job] = this.posted.splice(i, 1) as [Job];
    if (job.started === true) this.running--;
    return job;
  }

  /** The least concurrency among the running jobs (Infinity when none runs). */
  private limit(): number {
    let limit = Infinity;
    for (const j of this.posted) if (j.started === true && j.conc < limit) limit = j.conc;
    return limit;
  }

  /**
   * Marks the posted jobs that start now, by the rule the worker follows (`mayStart`, walked in
   * posting order), and returns them. The worker may be ahead (it saw a job finish whose answer
   * is on its way here), never behind: what this returns has started, or will on arrival.
   */
  advance(): Job[] {
    const fresh: Job[] = [];
    let limit = this.limit();
    for (const j of this.posted) {
      if (j.started === true) continue;
      const up = j.upstream;
      const blocked = up !== undefined && this.posted.includes(up);
      const v = mayStart(blocked, j.conc, this.running, limit);
      if (v === "wait") continue;
      if (v === "full") break;
      j.started = true;
      this.running++;
      if (j.conc < limit) limit = j.conc;
      fresh.push(j);
    }
    return fresh;
  }

  /** True when a job of concurrency `conc` posted now would start at once. */
  startsNow(conc: number): boolean {
    for (const j of this.posted) {
      if (j.started !== true && !(j.upstream !== undefined && this.posted.includes(j.upstream)))
        return false; // something posted earlier waits for room: this would queue behind it
    }
    return mayStart(false, conc, this.running, this.limit()) === "start";
  }

  /**
   * True when a running job waits on a nested call or was told to stop: a job that cannot start
   * at once is not posted behind it (the callee might be that job, or the worker may be lost).
   */
  get held(): boolean {
    for (const j of this.posted) {
      if (j.started === true && ((j.nested ?? 0) > 0 || j.abandoned !== undefined)) return true;
    }
    return false;
  }

  /**
   * True when the worker can do nothing for a job of concurrency `conc` without a nested call
   * answering first: it cannot start it, and every job running here waits on a nested call.
   */
  parkedFor(conc: number): boolean {
    if (this.running === 0 || this.startsNow(conc)) return false;
    for (const j of this.posted) if (j.started === true && (j.nested ?? 0) === 0) return false;
    return true;
  }

  /** True when every running job waits on a nested call. */
  get parked(): boolean {
    if (this.running === 0) return false;
    for (const j of this.posted) if (j.started === true && (j.nested ?? 0) === 0) return false;
    return true;
  }

  /** True when the worker holds (or was sent) the compiled code of `key`. */
  knows(key: string): boolean {
    return this.code.has(key);
  }

  /**
   * Records that an invocation of `key` is being posted, as the worker records its arrival.
   * Returns true when the code must travel with it.
   */
  admit(key: string): boolean {
    const travels = !this.code.has(key);
    this.code.admit(key, travels ? true : undefined);
    return travels;
  }

  /**
   * Queues a message for the worker. Messages are flushed as one array in a later phase of the
   * event loop, so results that arrive together are answered with one postMessage. `transfer`
   * lists ArrayBuffers that move to the worker instead of being copied: each must belong to this
   * message alone (see `ownValueBytes`), as they are unusable here once posted.
   */
  post(m: DownMsg, transfer?: readonly ArrayBuffer[]): void {
    if (this.dead) return;
    this.outbox.push(m);
    if (transfer !== undefined) for (const b of transfer) this.transfer.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushNow();
  };

  private flushNow(): void {
    this.scheduled = false;
    if (this.dead || this.outbox.length === 0) return;
    const batch = this.outbox;
    const transfer = this.transfer;
    this.outbox = [];
    this.transfer = [];
    this.worker.postMessage(batch, transfer);
  }

  /** Gives the worker a direct port to worker `num` (transferred, so not batched). */
  sendPort(num: number, port: MessagePort | undefined): void {
    if (this.dead) return;
    this.flush();
    const m: PeerMsg =
      port === undefined ? { t: "peer", slot: num } : { t: "peer", slot: num, port };
    this.worker.postMessage([m], port === undefined ? [] : [port]);
  }

  /** Makes sure the timer fires no later than `deadline` (a performance.now() time). */
  arm(deadline: number, now: number): void {
    if (deadline === Infinity) return;
    if (this.timer !== undefined && this.timerAt <= deadline) return;
    this.disarm();
    const delay = Math.min(Math.max(0, Math.ceil(deadline - now)), MAX_DELAY);
    this.timerAt = now + delay;
    this.timer = setTimeout(this.fire, delay);
    // Workers keep the process alive while they exist; the timer itself need not.
    this.timer.unref();
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!this.dead) this.events.expired(this);
  };

  /**
   * Stops an idle worker gracefully: it runs its before-exit hooks and exits (native add-ons can
   * abort the process when their thread is terminated under them); terminated only if it has
   * not exited after `fallbackMs`. A worker still booting is terminated at once.
   */
  stop(fallbackMs = STOP_FALLBACK_MS): void {
    if (this.dead) return;
    if (!this.ready) return this.kill();
    this.dead = true;
    this.disarm();
    this.outbox = [];
    this.transfer = [];
    const exit: DownMsg = { t: "exit" };
    this.worker.postMessage([exit]);
    const t = setTimeout(() => void this.worker.terminate(), fallbackMs);
    t.unref();
    void this.exited.then(() => clearTimeout(t));
  }

  /** Stops the worker; what it was doing is the caller's to settle. */
  kill(): void {
    this.dead = true;
    this.disarm();
    this.outbox = [];
    this.transfer = [];
    void this.worker.terminate();
  }
}
