/**
 * Minimal declarations for the two parser packages the executor borrows from ESLint's toolchain;
 * neither ships types. Only what `validate.ts` reads is declared, and the AST is typed loosely
 * (a `type` tag plus the few fields we inspect) so these stay honest without `@types/estree`.
 */

declare module "espree" {
  /** An ESTree node; only the fields validate.ts inspects are listed. */
  export interface EsNode {
    type: string;
    [field: string]: unknown;
  }
  export interface ParseOptions {
    ecmaVersion?: number | "latest";
    sourceType?: "script" | "module" | "commonjs";
    range?: boolean;
    loc?: boolean;
  }
  /** Thrown on a syntax error; `lineNumber` and `column` are 1-based. */
  export interface EspreeSyntaxError extends SyntaxError {
    index: number;
    lineNumber: number;
    column: number;
  }
  export const latestEcmaVersion: number;
  export function parse(code: string, options?: ParseOptions): EsNode & { body: EsNode[] };
}

declare module "eslint-scope" {
  import type { EsNode } from "espree";
  export interface Reference {
    identifier: { name: string };
  }
  export interface Scope {
    /** References not resolved in this scope (for the global scope: the free variables). */
    through: Reference[];
  }
  export interface ScopeManager {
    globalScope: Scope | null;
  }
  export interface AnalyzeOptions {
    ecmaVersion?: number;
    sourceType?: "script" | "module" | "commonjs";
  }
  export function analyze(ast: EsNode, options?: AnalyzeOptions): ScopeManager;
}
