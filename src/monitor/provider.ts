/**
 * Starts and stops whole nodes for the monitor. Implementations: `LocalNodeProvider` (child
 * processes on this machine) and `KubernetesNodeProvider` (the replicas of a Deployment).
 *
 * @example
 * ```ts
 * const p: NodeProvider = new LocalNodeProvider({ command, join, env });
 * await p.scale(2); // two provider nodes running (or starting)
 * await p.current(); // 2
 * ```
 */
export interface NodeProvider {
  /** `local`, `kubernetes`, … (for logs and status). */
  readonly name: string;
  /** Nodes this provider runs now (or has been asked to run). */
  current(): Promise<number>;
  /** Runs `n` nodes: starts or stops the difference. Resolves once the change was made. */
  scale(n: number): Promise<void>;
  /** Releases what it holds (a local provider stops the nodes it started). */
  close(): Promise<void>;
}
