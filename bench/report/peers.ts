/** Per benchmark, the peer figures measured in the same run, shown beside its targets. */
export const PEERS: Record<string, { metric: string; label: string }[]> = {
  storage: [
    { metric: "redis_benchmark_ops", label: "redis-benchmark (no -P) ops/s" },
    { metric: "redis_benchmark_p16_ops", label: "redis-benchmark -P 16 ops/s" },
    { metric: "cluster_benchmark_ops", label: "redis-benchmark on the cluster ops/s" },
  ],
  composition: [
    { metric: "inprocess_http_p50_ms", label: "node:http in-process p50 ms" },
    { metric: "inprocess_http_rps", label: "node:http in-process req/s" },
  ],
  peers: [
    { metric: "restate_dag_p50_ms", label: "Restate p50 ms" },
    { metric: "restate_dag_throughput_rps", label: "Restate chains/s" },
  ],
  state: [
    { metric: "restate_counter_ops", label: "Restate virtual object increments/s" },
    { metric: "do_counter_ops", label: "Durable Object (miniflare) increments/s" },
    { metric: "rmw_lost_updates", label: "read-modify-write lost updates" },
  ],
  txn: [
    { metric: "restate_chain_p50_ms", label: "Restate durable chain p50 ms" },
    { metric: "restate_counter_ops", label: "Restate counter increments/s" },
  ],
  locality: [{ metric: "cold_p50_ms", label: "cold fetch from Redis p50 ms" }],
  gossip: [{ metric: "storage_p50_ms", label: "push-sum through storage p50 ms" }],
};
