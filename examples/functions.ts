/**
 * A module of functions for `stratus deploy examples/functions.ts`: every exported function is
 * registered under its name, and `dags` registers DAGs. Imports are bundled with esbuild, so
 * helpers like `clamp` below ship with the functions that use them.
 */
import type { Context } from "../src/index.js";

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

export async function increment(_ctx: Context, x: number): Promise<number> {
  return x + 1;
}

export function square(_ctx: Context, x: number): number {
  return x * x;
}

export function bounded(_ctx: Context, x: number): number {
  return clamp(x, 0, 100);
}

/**
 * Counts visits per page in Stratus state. A counter lattice is exact however many calls run at
 * once, on however many nodes: a get-then-put would lose updates under concurrency.
 */
export async function visit(ctx: Context, page: string): Promise<number> {
  await ctx.merge(`visits/${page}`, ctx.lattices.counter(1));
  return (await ctx.get<number>(`visits/${page}`)) ?? 0;
}

export const dags = {
  squareOfNext: {
    functions: ["increment", "square", "bounded"],
    edges: [
      ["increment", "square"],
      ["square", "bounded"],
    ],
  },
};
