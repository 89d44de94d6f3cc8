/**
 * A {@link Store} that injects faults into any other store, in this process, so that the failure
 * paths storage promises (see `Store`: `STORAGE_UNAVAILABLE` means the outcome is unknown) can be
 * driven one at a time from a unit test, in milliseconds, instead of by killing processes.
 *
 * A test scripts it with rules: which operations, which keys (by prefix), after how many matching
 * calls and how many times, and what happens:
 * - `fail-before`: the call throws `STORAGE_UNAVAILABLE` and never reaches the store;
 * - `fail-after`: the call runs (a write lands), then throws `STORAGE_UNAVAILABLE`;
 * - `unknown`: one of the two, chosen per call by the rule's `lands` (default: a seeded coin);
 * - `drop`: a change notification (`notify`) is not delivered (on `notify`, both failures drop
 *   too: a notification arrives or is lost);
 * - `pass`: the call goes through, after the rule's delay.
 *
 * Any rule may delay the call first, by milliseconds or until a promise the test controls
 * resolves (a gate, or `fc.scheduler()`'s `schedule`), so interleavings are chosen rather than
 * hoped for. Every fault that fires is logged with what it did, so a test can show its fault
 * happened before showing it did no harm.
 *
 * @example
 * ```ts
 * const store = new FaultyStore(await MemoryStore.open());
 * const f = store.inject({ ops: "putIfAbsent", prefix: "sys/txn/", fault: "fail-after", times: 1 });
 * await assert.rejects(store.putIfAbsent("sys/txn/c/t.1", v), { code: "STORAGE_UNAVAILABLE" });
 * assert.equal(f.fired, 1);
 * assert.ok(await store.get("sys/txn/c/t.1")); // it landed all the same
 * ```
 */
import { InvalidArgumentError, StorageUnavailableError } from "../src/errors/index.js";
import type { Lattice } from "../src/lattice/index.js";
import type { ChangeEvent, ChangeListener, Store, Subscription } from "../src/storage/index.js";

/** What a rule can target; `notify` is the delivery of one change event to one subscriber. */
export type StoreOp =
  | "get"
  | "getMany"
  | "put"
  | "putMany"
  | "putIfAbsent"
  | "delete"
  | "expire"
  | "scan"
  | "subscribe"
  | "notify";

/** What a rule does to a call it fires on (see the module header). */
export type FaultKind = "fail-before" | "fail-after" | "unknown" | "drop" | "pass";

/** One call as rules see it: the operation and the keys it names (a scan's or subscription's prefix). */
export interface StoreCall {
  readonly op: StoreOp;
  readonly keys: readonly string[];
  /** The change event, for `notify`. */
  readonly event?: ChangeEvent;
}

/** A rule, as given to {@link FaultyStore.inject}. */
export interface FaultRule {
  /** Operations it applies to. @default every operation */
  ops?: StoreOp | readonly StoreOp[];
  /** Keys it applies to: a call matches when one of its keys starts with this. @default every key */
  prefix?: string;
  /** Any further condition on the call (a lattice kind, a particular key). */
  when?: (call: StoreCall) => boolean;
  fault: FaultKind;
  /** Matching calls let through before the rule first fires. @default 0 */
  skip?: number;
  /** How many times it fires; then it stays, inert. @default Infinity */
  times?: number;
  /** Holds each call it fires on, before the call reaches the store: milliseconds, or a gate. */
  delay?: number | ((call: StoreCall) => PromiseLike<unknown>);
  /** For `unknown`: whether this call lands (runs, then fails) or not. @default the store's coin */
  lands?: (call: StoreCall) => boolean;
}

/** What a fault did to one call. `unknown` is logged as the outcome it took. */
export interface FiredFault extends StoreCall {
  readonly fault: Exclude<FaultKind, "unknown">;
}

/** A rule in force: counts what it matched and fired, and can be removed. */
export class Fault {
  /** Calls that matched (including those it skipped or, once spent, let through). */
  matched = 0;
  /** Calls it fired on. */
  fired = 0;
  constructor(
    readonly rule: FaultRule,
    private readonly owner: FaultyStore,
  ) {}

  /** Takes the rule out; calls in flight keep what it did to them. */
  remove(): void {
    this.owner.remove(this);
  }

  /** True when `call` is one this rule is about. */
  matches(call: StoreCall): boolean {
    const r = this.rule;
    if (r.ops !== undefined && !(typeof r.ops === "string" ? [r.ops] : r.ops).includes(call.op))
      return false;
    // A reset names no key, so a rule with a prefix never drops one.
    const p = r.prefix;
    if (p !== undefined && !call.keys.some((k) => k.startsWith(p))) return false;
    return r.when === undefined || r.when(call);
  }

  /** Whether the call it just matched is one it fires on (past `skip`, within `times`). */
  due(): boolean {
    return this.matched > (this.rule.skip ?? 0) && this.fired < (this.rule.times ?? Infinity);
  }
}

export interface FaultyStoreOptions {
  /** Seeds the coin `unknown` rules toss when they have no `lands`. @default 1 */
  seed?: number;
}

/**
 * Wraps `inner`: every call goes to it unless a rule says otherwise. Closing the wrapper closes
 * `inner`.
 */
export class FaultyStore implements Store {
  readonly backend: string;
  /** Every fault that fired, in order. */
  readonly log: FiredFault[] = [];
  /** Calls that reached this wrapper, per operation (faulted or not). */
  readonly calls = new Map<StoreOp, number>();
  private rules: Fault[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly coin: () => boolean;

  constructor(
    readonly inner: Store,
    o: FaultyStoreOptions = {},
  ) {
    this.backend = inner.backend;
    this.coin = coin(o.seed ?? 1);
  }

  /** Puts a rule in force (after those already in force: the first that fires wins). */
  inject(rule: FaultRule): Fault {
    const ops = typeof rule.ops === "string" ? [rule.ops] : rule.ops;
    if (rule.fault === "drop" && (ops === undefined || ops.some((o) => o !== "notify"))) {
      throw InvalidArgumentError.field("fault", 'drop applies to notify only (ops: "notify")');
    }
    const f = new Fault(rule, this);
    this.rules.push(f);
    return f;
  }

  /** Takes one rule out. */
  remove(f: Fault): void {
    this.rules = this.rules.filter((r) => r !== f);
  }

  /** Takes every rule out (the log stays). */
  heal(): void {
    this.rules = [];
  }

  /** The faults that fired, of one operation or all. */
  fired(op?: StoreOp): FiredFault[] {
    return op === undefined ? [...this.log] : this.log.filter((f) => f.op === op);
  }

  /**
   * Delivers `{ kind: "reset" }` to every subscriber, as a backend does when its change stream
   * reconnected and notifications may have been lost. Resolves once delivered.
   */
  async reset(): Promise<void> {
    await Promise.all([...this.subscribers].map((s) => s.deliver({ kind: "reset" })));
  }

  get(key: string): Promise<Lattice | undefined> {
    return this.run({ op: "get", keys: [key] }, () => this.inner.get(key));
  }

  getMany(keys: readonly string[]): Promise<(Lattice | undefined)[]> {
    return this.run({ op: "getMany", keys }, () => this.inner.getMany(keys));
  }

  put(key: string, value: Lattice): Promise<Lattice | undefined> {
    return this.run({ op: "put", keys: [key] }, () => this.inner.put(key, value));
  }

  putMany(entries: readonly (readonly [string, Lattice])[]): Promise<void> {
    const keys = entries.map(([k]) => k);
    return this.run({ op: "putMany", keys }, () => this.inner.putMany(entries));
  }

  putIfAbsent(key: string, value: Lattice): Promise<boolean> {
    return this.run({ op: "putIfAbsent", keys: [key] }, () => this.inner.putIfAbsent(key, value));
  }

  delete(key: string): Promise<void> {
    return this.run({ op: "delete", keys: [key] }, () => this.inner.delete(key));
  }

  expire(key: string, ttlMs: number): Promise<void> {
    return this.run({ op: "expire", keys: [key] }, () => this.inner.expire(key, ttlMs));
  }

  /** Faults apply to the whole scan: before it yields anything, or after it yielded everything. */
  async *scan(prefix: string): AsyncIterable<string> {
    const keys: string[] = [];
    await this.run({ op: "scan", keys: [prefix] }, async () => {
      for await (const k of this.inner.scan(prefix)) keys.push(k);
    });
    yield* keys;
  }

  async subscribe(prefix: string, listener: ChangeListener): Promise<Subscription> {
    const s = new Subscriber(this, prefix, listener);
    const inner = await this.run({ op: "subscribe", keys: [prefix] }, () =>
      this.inner.subscribe(prefix, (ev) => void s.deliver(ev)),
    );
    this.subscribers.add(s);
    return {
      close: async () => {
        s.closed = true;
        this.subscribers.delete(s);
        await inner.close();
      },
    };
  }

  /**
   * What the inner store's `sync` promises, plus the notifications this wrapper is holding back
   * (delayed, not dropped) at the time of the call.
   */
  async sync(): Promise<void> {
    await this.inner.sync?.();
    await Promise.all([...this.subscribers].map((s) => s.drained()));
  }

  close(): Promise<void> {
    for (const s of this.subscribers) s.closed = true;
    this.subscribers.clear();
    return this.inner.close();
  }

  /** The rule that fires on `call`, if any (every matching rule counts the call). */
  pick(call: StoreCall): Fault | undefined {
    this.calls.set(call.op, (this.calls.get(call.op) ?? 0) + 1);
    let hit: Fault | undefined;
    for (const f of this.rules) {
      if (!f.matches(call)) continue;
      f.matched++;
      if (hit === undefined && f.due()) hit = f;
    }
    if (hit !== undefined) hit.fired++;
    return hit;
  }

  /** Waits out a rule's delay, then tells what it does: `unknown` resolved to its outcome. */
  async apply(f: Fault, call: StoreCall): Promise<FiredFault["fault"]> {
    const d = f.rule.delay;
    if (typeof d === "number") await new Promise((r) => setTimeout(r, d));
    else if (d !== undefined) await d(call);
    let kind = f.rule.fault;
    if (kind === "unknown") kind = (f.rule.lands ?? this.coin)(call) ? "fail-after" : "fail-before";
    this.log.push({ ...call, fault: kind });
    return kind;
  }

  private async run<T>(call: StoreCall, op: () => Promise<T>): Promise<T> {
    const f = this.pick(call);
    if (f === undefined) return op();
    const kind = await this.apply(f, call);
    if (kind === "fail-before") throw injected(call, "before");
    const out = await op();
    if (kind === "fail-after") throw injected(call, "after");
    return out;
  }
}

/** One subscriber's delivery, where `notify` rules apply. */
class Subscriber {
  closed = false;
  private readonly held = new Set<Promise<void>>();

  constructor(
    private readonly store: FaultyStore,
    readonly prefix: string,
    private readonly listener: ChangeListener,
  ) {}

  deliver(event: ChangeEvent): Promise<void> {
    if (this.closed) return Promise.resolve();
    const call: StoreCall = {
      op: "notify",
      keys: event.kind === "reset" ? [] : [event.key],
      event,
    };
    const f = this.store.pick(call);
    if (f === undefined) {
      this.listener(event);
      return Promise.resolve();
    }
    const p = this.store.apply(f, call).then((kind) => {
      // A notification either arrives or is lost: failing one is dropping it.
      if (kind === "pass" && !this.closed) this.listener(event);
    });
    this.held.add(p);
    void p.finally(() => this.held.delete(p));
    return p;
  }

  /** Resolves once the notifications held back now are delivered (or dropped). */
  drained(): Promise<void> {
    return Promise.all([...this.held]).then(() => undefined);
  }
}

function injected(call: StoreCall, when: "before" | "after"): StorageUnavailableError {
  const what = when === "before" ? "before it reached the store" : "after it was applied";
  return new StorageUnavailableError(`injected fault: ${call.op} failed ${what}`, {
    details: {
      injected: true,
      op: call.op,
      keys: call.keys.slice(0, 8),
      applied: when === "after",
    },
  });
}

/** A seeded fair coin (mulberry32): the same seed tosses the same sequence. */
function coin(seed: number): () => boolean {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 < 0.5;
  };
}
