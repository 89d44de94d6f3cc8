/**
 * Column types: each schema is a run-time description (`{ url: "string", img: "tensor" }`) and,
 * through {@link Row}, the TypeScript type of its rows, so a wrong column name in a stage's code
 * is a compile error.
 */
import { SchemaMismatchError } from "../errors/index.js";

/** A tensor: a typed array (Float32Array, …) or a plain array of numbers. */
export type Tensor =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | number[];

/** What each column type holds. `json` is any encodable value; every column may also be null. */
export interface ColumnTypes {
  string: string;
  number: number;
  boolean: boolean;
  bytes: Uint8Array;
  tensor: Tensor;
  json: unknown;
}

/** A column type's name. */
export type ColumnType = keyof ColumnTypes;

/** A schema: column name to column type. */
export type Schema = Record<string, ColumnType>;

/** The TypeScript type of one row of schema `S`. */
export type Row<S extends Schema> = { [K in keyof S]: ColumnTypes[S[K]] | null };

/** Column names of `S` holding numbers (what `sum`, `min`, `max` and `avg` accept). */
export type NumericColumn<S extends Schema> = {
  [K in keyof S]: S[K] extends "number" ? K : never;
}[keyof S] &
  string;

/** `S` then the columns of `T` it lacks (a join's output: the left side's columns win). */
export type Merge<S extends Schema, T extends Schema> = {
  [K in keyof S | keyof T]: K extends keyof S ? S[K] : K extends keyof T ? T[K] : never;
};

const TYPES: ReadonlySet<string> = new Set([
  "string",
  "number",
  "boolean",
  "bytes",
  "tensor",
  "json",
]);

/** Checks a schema's own shape (at build time); throws `SCHEMA_MISMATCH` naming the operator. */
export function checkSchema(op: string, schema: unknown): Schema {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new SchemaMismatchError(`${op}: the schema must be an object of column types`, {
      details: { operator: op },
    });
  }
  for (const [col, t] of Object.entries(schema)) {
    if (typeof t !== "string" || !TYPES.has(t)) {
      throw new SchemaMismatchError(
        `${op}: column ${col} has type ${JSON.stringify(t)}; use one of ${[...TYPES].join(", ")}`,
        { details: { operator: op, column: col } },
      );
    }
  }
  return { ...(schema as Schema) };
}

/** True when `v` fits column type `t` (null fits every column). */
export function fits(t: ColumnType, v: unknown): boolean {
  if (v === null) return true;
  switch (t) {
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    case "bytes":
      return v instanceof Uint8Array;
    case "tensor":
      return (
        (ArrayBuffer.isView(v) && !(v instanceof DataView)) ||
        (Array.isArray(v) && v.every((x) => typeof x === "number"))
      );
    case "json":
      return v !== undefined;
  }
}

/** Checks one row against a schema; the error names the operator, the row and the column. */
export function checkRow(op: string, schema: Schema, row: unknown, index: number): void {
  if (typeof row !== "object" || row === null || Array.isArray(row)) {
    throw new SchemaMismatchError(`${op}: row ${index} is not an object`, {
      details: { operator: op, row: index },
    });
  }
  const r = row as Record<string, unknown>;
  for (const [col, t] of Object.entries(schema)) {
    if (!Object.hasOwn(r, col) || !fits(t, r[col])) {
      throw new SchemaMismatchError(
        `${op}: row ${index} column ${col} should be ${t}, not ${Object.hasOwn(r, col) ? describe(r[col]) : "missing"}`,
        { details: { operator: op, column: col, row: index } },
      );
    }
  }
  for (const col of Object.keys(r)) {
    if (!Object.hasOwn(schema, col)) {
      throw new SchemaMismatchError(`${op}: row ${index} has column ${col}, not in the schema`, {
        details: { operator: op, column: col, row: index },
      });
    }
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return Array.isArray(v) ? "an array" : typeof v;
}
