/**
 * Kubernetes manifests checked offline against the Kubernetes API's own schemas, as
 * `kubectl apply --validate=strict` would check them against a cluster:
 * - types, formats, enums and required fields by `kubernetes-models` (the API's OpenAPI schemas
 *   compiled to ajv validators, shipped in the package);
 * - unknown fields (a misspelt key the API would drop) by walking the field lists of
 *   `@kubernetes/client-node`'s generated models, since those schemas allow extra properties.
 * Nothing is downloaded at run time.
 */
import * as k8s from "@kubernetes/client-node";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as coreV1 from "kubernetes-models/v1";

/** The API groups the manifests use; another one fails until it is added here. */
const GROUPS: Record<string, Record<string, unknown>> = { v1: coreV1, "apps/v1": appsV1 };

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;
interface Attribute {
  baseName: string;
  type: string;
}
interface Typed {
  getAttributeTypeMap(): Attribute[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A client-node model class by its type name (`V1Container`), if that name is one. */
function model(type: string): Typed | undefined {
  const c = (k8s as unknown as Record<string, unknown>)[type];
  return typeof c === "function" && "getAttributeTypeMap" in c
    ? (c as unknown as Typed)
    : undefined;
}

/** Every key of `value` that its type does not have, as `path.key`. */
function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) {
    if (Array.isArray(value)) {
      value.forEach((v, i) => unknownFields(v, array[1] as string, `${path}[${i}]`, out));
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    if (isObject(value)) {
      for (const [k, v] of Object.entries(value))
        unknownFields(v, map[1] as string, `${path}.${k}`, out);
    }
    return;
  }
  const m = model(type);
  // Primitives, IntOrString and quantities: their types are the schema validators' to check.
  if (m === undefined || !isObject(value)) return;
  const fields = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = fields.get(k);
    if (t === undefined) out.push(`${path}.${k} is not a field of ${type}`);
    else unknownFields(v, t, `${path}.${k}`, out);
  }
}

/**
 * What is wrong with one manifest against the Kubernetes schemas; empty when it is valid.
 *
 * @example
 * ```ts
 * schemaErrors({ apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: {} }); // []
 * ```
 */
export function schemaErrors(doc: unknown): string[] {
  if (!isObject(doc)) return ["not an object"];
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return ["apiVersion and kind must be strings"];
  }
  const Model = GROUPS[apiVersion]?.[kind] as ModelClass | undefined;
  if (typeof Model !== "function") return [`no schema for ${apiVersion} ${kind}`];
  const errors: string[] = [];
  try {
    new Model(doc).validate();
  } catch (e) {
    errors.push((e as Error).message);
  }
  const version = apiVersion.split("/").at(-1) ?? "";
  const root = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  if (model(root) === undefined) errors.push(`no field list for ${apiVersion} ${kind}`);
  else unknownFields(doc, root, kind, errors);
  return errors;
}
