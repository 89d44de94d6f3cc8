/**
 * `npm start` until the runtime lands: writes, merges and reads lattices on the embedded memory
 * store with its append-only log, so a second run shows what the first one left behind.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  HybridClock,
  LwwLattice,
  MaxLattice,
  MemoryStore,
  SetLattice,
  isStratusError,
} from "../src/index.js";

const logPath = process.env.STRATUS_DEMO_LOG ?? join(tmpdir(), "stratus-demo.log");
const store = await MemoryStore.open({ logPath, fsync: "always" });
const clock = new HybridClock({ node: "demo" });

const runs = await store.get("demo/runs");
console.log(`log ${logPath}: ${runs ? `run ${(runs as MaxLattice).value + 1}` : "first run"}`);
await store.put("demo/runs", new MaxLattice(runs ? (runs as MaxLattice).value + 1 : 1));

// Two writers, one key: every write is a merge, so the later timestamp wins whatever the order.
const first = LwwLattice.of("hello", clock.now());
const second = LwwLattice.of("hello, world", clock.now());
await store.put("demo/greeting", second);
await store.put("demo/greeting", first);
console.log("lww greeting:", ((await store.get("demo/greeting")) as LwwLattice).value());

// Sets grow by union: concurrent adds are all kept.
await Promise.all([
  store.put("demo/tags", SetLattice.of(["fast"])),
  store.put("demo/tags", SetLattice.of(["stateful", "fast"])),
]);
console.log("set tags:", ((await store.get("demo/tags")) as SetLattice).values());

try {
  await store.put("demo/tags", new MaxLattice(1));
} catch (err) {
  if (!isStratusError(err)) throw err;
  console.log(`merging a max into a set is refused: ${err.code}: ${err.message}`);
}
await store.close();
