import { InvalidArgumentError, StratusError } from "../errors/index.js";
import type { NodeProvider } from "./provider.js";

/** Options of {@link KubernetesNodeProvider}. */
export interface KubernetesNodeProviderOptions {
  /** The Deployment whose pods are Stratus nodes (`stratus node --join …`). */
  deployment: string;
  /** @default "default" */
  namespace?: string;
  /**
   * How to reach the API server: `"default"` lets `@kubernetes/client-node` find it
   * (`KUBECONFIG`, `~/.kube/config`, or the pod's service account in a cluster), or an explicit
   * server with a bearer token. @default "default"
   */
  cluster?: "default" | { server: string; token: string; caData?: string; skipTlsVerify?: boolean };
}

interface ScaleApi {
  readNamespacedDeploymentScale(p: { name: string; namespace: string }): Promise<{
    spec?: { replicas?: number };
  }>;
  replaceNamespacedDeploymentScale(p: {
    name: string;
    namespace: string;
    body: { metadata: { name: string; namespace: string }; spec: { replicas: number } };
  }): Promise<unknown>;
}

/**
 * Scales a Kubernetes Deployment of Stratus nodes through its `scale` subresource
 * (`GET`/`PUT /apis/apps/v1/namespaces/<ns>/deployments/<name>/scale`) with
 * `@kubernetes/client-node`, loaded on first use. The pods join the cluster themselves; the
 * provider only sets the replica count. No Kubernetes cluster runs where Stratus is developed:
 * the tests drive it against a fake API server that speaks those two endpoints.
 *
 * @example
 * ```ts
 * const p = new KubernetesNodeProvider({ deployment: "stratus-node", namespace: "stratus" });
 * await p.scale(3); // replicas: 3
 * ```
 */
export class KubernetesNodeProvider implements NodeProvider {
  readonly name = "kubernetes";
  private readonly namespace: string;
  private api: Promise<ScaleApi> | undefined;

  constructor(private readonly o: KubernetesNodeProviderOptions) {
    if (
      typeof o.deployment !== "string" ||
      !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(o.deployment)
    ) {
      throw InvalidArgumentError.field("deployment", "must be a Kubernetes object name");
    }
    this.namespace = o.namespace ?? "default";
  }

  private client(): Promise<ScaleApi> {
    this.api ??= (async () => {
      const k8s = await import("@kubernetes/client-node");
      const kc = new k8s.KubeConfig();
      const c = this.o.cluster ?? "default";
      if (c === "default") kc.loadFromDefault();
      else {
        kc.loadFromOptions({
          clusters: [
            {
              name: "stratus",
              server: c.server,
              skipTLSVerify: c.skipTlsVerify ?? false,
              ...(c.caData === undefined ? {} : { caData: c.caData }),
            },
          ],
          users: [{ name: "stratus", token: c.token }],
          contexts: [{ name: "stratus", cluster: "stratus", user: "stratus" }],
          currentContext: "stratus",
        });
      }
      return kc.makeApiClient(k8s.AppsV1Api);
    })();
    return this.api;
  }

  async current(): Promise<number> {
    const api = await this.client();
    try {
      const s = await api.readNamespacedDeploymentScale({
        name: this.o.deployment,
        namespace: this.namespace,
      });
      return s.spec?.replicas ?? 0;
    } catch (e) {
      throw this.error("reading the scale of", e);
    }
  }

  async scale(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0)
      throw InvalidArgumentError.field("n", "must be an integer ≥ 0");
    const api = await this.client();
    const { deployment: name } = this.o;
    try {
      await api.replaceNamespacedDeploymentScale({
        name,
        namespace: this.namespace,
        body: { metadata: { name, namespace: this.namespace }, spec: { replicas: n } },
      });
    } catch (e) {
      throw this.error(`setting ${n} replicas on`, e);
    }
  }

  private error(what: string, e: unknown): StratusError {
    const code = (e as { code?: unknown }).code;
    const msg = e instanceof Error ? e.message : String(e);
    return new StratusError(
      "NO_RESOURCES",
      `kubernetes: ${what} deployment ${this.namespace}/${this.o.deployment} failed${typeof code === "number" ? ` (HTTP ${code})` : ""}: ${msg.slice(0, 500)}`,
      { cause: e, retryable: true },
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
