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

/** Counts visits per key in Stratus state. */
export async function visit(ctx: Context, page: string): Promise<number> {
  const n = ((await ctx.get<number>(`visits/${page}`)) ?? 0) + 1;
  await ctx.put(`visits/${page}`, n);
  return n;
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
