/**
 * The interpreter every compiled stage function runs. It is shipped as source inside each stage
 * function (see compile.ts), so it must stay self-contained: no imports, no module-level names,
 * nothing but executor globals. Its failures are Errors whose `name` is a dataflow error code;
 * the app turns them back into the typed errors.
 */
import type { GroupSpec, OpSpec, Table } from "./ops.js";

type UserFn = (ctx: unknown, arg: unknown) => unknown;

/**
 * Runs the operators of `spec` over the function's arguments (`args[0..]`: upstream tables in
 * edge order; a locality continuation gets the routed rows as `args[0]`).
 */
export async function runGroup(
  spec: GroupSpec,
  fns: Record<string, UserFn>,
  ctx: {
    state?: unknown;
    get(k: string, o?: { shared?: boolean }): Promise<unknown>;
    call(n: string, a: unknown[], o?: { near?: string[] }): Promise<unknown>;
  },
  args: unknown[],
): Promise<Table> {
  const fail = (code: string, message: string): never => {
    const e = new Error(message);
    e.name = code;
    throw e;
  };
  const isTable = (t: unknown): t is Table =>
    typeof t === "object" &&
    t !== null &&
    Array.isArray((t as Table).r) &&
    Array.isArray((t as Table).q) &&
    Array.isArray((t as Table).i);
  const fits = (t: string, v: unknown): boolean => {
    if (v === null) return true;
    if (t === "string" || t === "number" || t === "boolean") return typeof v === t;
    if (t === "bytes") return v instanceof Uint8Array;
    if (t === "tensor") {
      return (
        (ArrayBuffer.isView(v) && !(v instanceof DataView)) ||
        (Array.isArray(v) && v.every((x) => typeof x === "number"))
      );
    }
    return v !== undefined;
  };
  const what = (v: unknown): string =>
    v === undefined
      ? "undefined"
      : ArrayBuffer.isView(v)
        ? v.constructor.name
        : Array.isArray(v)
          ? "an array"
          : typeof v;
  const checkOut = (op: OpSpec, row: unknown, n: number): Record<string, unknown> => {
    const label = `map ${op.id}`;
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      return fail("SCHEMA_MISMATCH", `${label}: output row ${n} is ${what(row)}, not a row object`);
    }
    const r = row as Record<string, unknown>;
    const schema = op.schema ?? {};
    for (const col of Object.keys(schema)) {
      if (!Object.hasOwn(r, col)) {
        fail("SCHEMA_MISMATCH", `${label}: output row ${n} lacks column ${col}`);
      }
      if (!fits(schema[col] as string, r[col])) {
        fail(
          "SCHEMA_MISMATCH",
          `${label}: output row ${n} column ${col} should be ${schema[col]}, not ${what(r[col])}`,
        );
      }
    }
    for (const col of Object.keys(r)) {
      if (!Object.hasOwn(schema, col)) {
        fail("SCHEMA_MISMATCH", `${label}: output row ${n} has column ${col}, not in its schema`);
      }
    }
    return r;
  };
  const states = (ctx.state ?? {}) as Record<string, unknown>;
  const ctxOf = (op: OpSpec): unknown =>
    op.init === true ? Object.create(ctx, { state: { value: states[op.id] } }) : ctx;
  const userFn = (op: OpSpec): UserFn => {
    const f = fns[op.id];
    return typeof f === "function" ? f : fail("BAD_FLOW", `${op.kind} ${op.id} has no function`);
  };
  const column = (op: OpSpec, row: Record<string, unknown>, col: string): unknown => {
    if (!Object.hasOwn(row, col)) fail("UNKNOWN_COLUMN", `${op.kind} ${op.id}: no column ${col}`);
    return row[col];
  };
  const keyOf = async (op: OpSpec, row: Record<string, unknown>): Promise<string> => {
    const k = op.key ?? (await (userFn(op) as (r: unknown) => unknown)(row));
    return typeof k === "string" && k.length > 0
      ? k
      : fail(
          "SCHEMA_MISMATCH",
          `lookup ${op.id}: the key must be a non-empty string, not ${what(k)}`,
        );
  };

  const tables = new Map<string, Table>();
  const input = (name: string): Table => {
    const t = name.startsWith("$") ? args[Number(name.slice(1))] : tables.get(name);
    return isTable(t) ? t : fail("BAD_FLOW", `no table ${name} for this stage`);
  };

  for (const op of spec.ops) {
    const ins = op.ins.map(input);
    const a = ins[0] as Table;
    let out: Table;
    switch (op.kind) {
      case "input":
      case "anyof":
        out = a;
        break;
      case "union":
        out = { q: [], i: [], r: [] };
        for (const t of ins) {
          out.q.push(...t.q);
          out.i.push(...t.i);
          out.r.push(...t.r);
        }
        break;
      case "filter": {
        out = { q: [], i: [], r: [] };
        const f = userFn(op);
        const c = ctxOf(op);
        for (let n = 0; n < a.r.length; n++) {
          if (await f(c, a.r[n])) {
            out.q.push(a.q[n] as number);
            out.i.push(a.i[n] as string | number);
            out.r.push(a.r[n] as Record<string, unknown>);
          }
        }
        break;
      }
      case "map": {
        const f = userFn(op);
        const c = ctxOf(op);
        let rows: unknown[];
        if (op.batch === true) {
          rows = a.r.length === 0 ? [] : ((await f(c, a.r)) as unknown[]);
          if (!Array.isArray(rows) || rows.length !== a.r.length) {
            fail(
              "SCHEMA_MISMATCH",
              `map ${op.id}: a batch map must return one row per input row (${a.r.length}), not ${Array.isArray(rows) ? rows.length : what(rows)}`,
            );
          }
        } else {
          rows = [];
          for (const r of a.r) rows.push(await f(c, r));
        }
        out = { q: a.q, i: a.i, r: rows.map((r, n) => checkOut(op, r, n)) };
        break;
      }
      case "agg": {
        const by = op.by as string;
        const groups = new Map<string, { q: number; k: unknown; n: number; v: number }>();
        for (let n = 0; n < a.r.length; n++) {
          const row = a.r[n] as Record<string, unknown>;
          const k = column(op, row, by);
          const q = a.q[n] as number;
          const id = `${q}\u0000${typeof k}\u0000${String(k)}`;
          let g = groups.get(id);
          const fresh = g === undefined;
          g ??= { q, k, n: 0, v: 0 };
          groups.set(id, g);
          g.n++;
          if (op.agg === "count") continue;
          const x = column(op, row, op.col as string);
          if (typeof x !== "number") {
            fail(
              "SCHEMA_MISMATCH",
              `agg ${op.id}: column ${op.col} should be number, not ${what(x)}`,
            );
          }
          const v = x as number;
          if (fresh) g.v = v;
          else if (op.agg === "min") g.v = Math.min(g.v, v);
          else if (op.agg === "max") g.v = Math.max(g.v, v);
          else g.v += v;
        }
        out = { q: [], i: [], r: [] };
        for (const g of groups.values()) {
          const v = op.agg === "count" ? g.n : op.agg === "avg" ? g.v / g.n : g.v;
          out.q.push(g.q);
          out.i.push(typeof g.k === "number" ? g.k : String(g.k));
          out.r.push({ [by]: g.k, [op.agg as string]: v });
        }
        break;
      }
      case "join": {
        const b = ins[1] as Table;
        const on = op.on;
        const keyAt = (t: Table, n: number): string => {
          const k = on === undefined ? t.i[n] : column(op, t.r[n] as Record<string, unknown>, on);
          return `${t.q[n]}\u0000${typeof k}\u0000${String(k)}`;
        };
        const rightCols = new Set<string>();
        const leftCols = new Set<string>();
        for (const r of b.r) for (const c of Object.keys(r)) rightCols.add(c);
        for (const r of a.r) for (const c of Object.keys(r)) leftCols.add(c);
        const index = new Map<string, number[]>();
        for (let n = 0; n < b.r.length; n++) {
          const k = keyAt(b, n);
          const list = index.get(k);
          if (list === undefined) index.set(k, [n]);
          else list.push(n);
        }
        const used = new Set<number>();
        out = { q: [], i: [], r: [] };
        for (let n = 0; n < a.r.length; n++) {
          const l = a.r[n] as Record<string, unknown>;
          const matches = index.get(keyAt(a, n)) ?? [];
          for (const m of matches) {
            used.add(m);
            const row: Record<string, unknown> = { ...l };
            for (const [c, v] of Object.entries(b.r[m] as Record<string, unknown>)) {
              if (!Object.hasOwn(row, c)) row[c] = v;
            }
            out.q.push(a.q[n] as number);
            out.i.push(a.i[n] as string | number);
            out.r.push(row);
          }
          if (matches.length === 0 && op.how !== "inner") {
            const row: Record<string, unknown> = { ...l };
            for (const c of rightCols) if (!Object.hasOwn(row, c)) row[c] = null;
            out.q.push(a.q[n] as number);
            out.i.push(a.i[n] as string | number);
            out.r.push(row);
          }
        }
        if (op.how === "outer") {
          for (let m = 0; m < b.r.length; m++) {
            if (used.has(m)) continue;
            const row: Record<string, unknown> = {};
            for (const c of leftCols) row[c] = null;
            for (const [c, v] of Object.entries(b.r[m] as Record<string, unknown>)) row[c] = v;
            out.q.push(b.q[m] as number);
            out.i.push(b.i[m] as string | number);
            out.r.push(row);
          }
        }
        break;
      }
      case "lookup": {
        const as = op.as as string;
        // Looked-up values are shared, not copied: a 5 MB matrix read on every run would cost
        // a copy each time. Rows carry them read-only (see `lookup` in flow.ts).
        const values = new Map<string, unknown>();
        const keys: string[] = [];
        for (const r of a.r) keys.push(await keyOf(op, r));
        await Promise.all(
          [...new Set(keys)].map(async (k) =>
            values.set(k, (await ctx.get(k, { shared: true })) ?? null),
          ),
        );
        out = {
          q: a.q,
          i: a.i,
          r: a.r.map((r, n) => ({ ...r, [as]: values.get(keys[n] as string) })),
        };
        break;
      }
      case "route": {
        // Locality: the rows of each key go on to the node caching that key (placement follows
        // the reference), and come back in their original order.
        const byKey = new Map<string, number[]>();
        for (let n = 0; n < a.r.length; n++) {
          const k = await keyOf(op, a.r[n] as Record<string, unknown>);
          const list = byKey.get(k);
          if (list === undefined) byKey.set(k, [n]);
          else list.push(n);
        }
        const parts = await Promise.all(
          [...byKey].map(([k, rows]) => {
            const sub: Table = {
              q: rows.map((n) => a.q[n] as number),
              i: rows.map((n) => a.i[n] as string | number),
              r: rows.map((n) => a.r[n] as Record<string, unknown>),
            };
            // The continuation reads the key itself (shared, from its worker's cache); `near`
            // only steers placement to the node caching it.
            return ctx.call(op.target as string, [sub], { near: [k] }) as Promise<Table>;
          }),
        );
        out = { q: [], i: [], r: [] };
        for (const p of parts) {
          out.q.push(...p.q);
          out.i.push(...p.i);
          out.r.push(...p.r);
        }
        break;
      }
      default:
        return fail("BAD_FLOW", `unknown operator kind ${String(op.kind)}`);
    }
    tables.set(op.id, out);
  }
  return input(spec.exit);
}
