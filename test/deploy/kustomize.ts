/**
 * A small, honest subset of Kustomize, enough to render deploy/kubernetes/ without kubectl (there
 * is none here, nor a maintained offline renderer on npm). It supports exactly what those files
 * use and refuses anything else by name, so a new feature in a kustomization fails the test
 * instead of being silently ignored:
 *
 * - `resources`: YAML files (one or more documents) and directories holding a kustomization;
 * - `configMapGenerator` with `files` (optionally `key=path`) and `literals`, and
 *   `options.disableNameSuffixHash` (also as `generatorOptions`); suffixed names use Kustomize's
 *   scheme (SHA-256 of the JSON of kind, name and data, Go's HTML escaping, the first ten hex
 *   digits with 0,1,3,a,e replaced by g,h,k,m,t) and references to them in pod templates are
 *   rewritten, in this layer and every layer above;
 * - `patches` with a JSON patch (RFC 6902: add, remove, replace, move, copy, test) from `path`
 *   or inline `patch`, selected by `target` (group, version, kind, name);
 * - `namespace`, `labels` (`pairs`, `includeSelectors`, `includeTemplates`).
 *
 * Order within one layer follows Kustomize: resources and generators, patches, namespace,
 * labels, then generated names and the references to them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

type Json = unknown;

const SUPPORTED_KEYS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'generatorOptions', 'patches', 'namespace', 'labels']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'PriorityClass']);

interface Rendered {
  readonly objects: KubeObject[];
  /** Original ConfigMap name → generated (suffixed) name, from this layer and those below. */
  readonly renames: Map<string, string>;
}

function fail(dir: string, message: string): never {
  throw new Error(`${join(dir, 'kustomization.yaml')}: ${message}`);
}

function readKustomization(dir: string): Record<string, unknown> {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((name) => join(dir, name)).find((path) => existsSync(path));
  if (!file) throw new Error(`${dir}: no kustomization file`);
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (!SUPPORTED_KEYS.has(key)) fail(dir, `"${key}" is not supported by this renderer`);
  if (doc.kind !== 'Kustomization') fail(dir, 'kind must be Kustomization');
  return doc;
}

function readManifests(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0].message}`);
    const value = doc.toJS() as KubeObject | null;
    return value === null ? [] : [value];
  });
}

// ─── configMapGenerator ─────────────────────────────────────────────────────────────────────────

/** Go's json.Marshal: sorted keys (for the maps kustomize hashes), HTML-escaped, Go's escapes for control characters. */
function goJson(value: Json): string {
  if (typeof value === 'string') {
    return JSON.stringify(value)
      .replaceAll('<', '\\u003c')
      .replaceAll('>', '\\u003e')
      .replaceAll('&', '\\u0026')
      .replaceAll('\u2028', '\\u2028')
      .replaceAll('\u2029', '\\u2029')
      .replaceAll('\\b', '\\u0008')
      .replaceAll('\\f', '\\u000c');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, Json>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${goJson(key)}:${goJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const HASH_LETTERS: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };

/** Kustomize's content hash of a ConfigMap: what its generated name ends with. */
export function configMapHash(name: string, data: Readonly<Record<string, string>>): string {
  const hex = createHash('sha256').update(goJson({ kind: 'ConfigMap', name, data })).digest('hex');
  return [...hex.slice(0, 10)].map((c) => HASH_LETTERS[c] ?? c).join('');
}

interface GeneratorSpec {
  name: string;
  files?: string[];
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean };
}

function generatorData(dir: string, spec: GeneratorSpec): Record<string, string> {
  const data: Record<string, string> = {};
  for (const entry of spec.files ?? []) {
    const [key, path] = entry.includes('=') ? entry.split('=', 2) : [basename(entry), entry];
    data[key] = readFileSync(join(dir, path), 'utf8');
  }
  for (const literal of spec.literals ?? []) {
    const at = literal.indexOf('=');
    data[literal.slice(0, at)] = literal.slice(at + 1);
  }
  return data;
}

function generate(dir: string, kustomization: Record<string, unknown>, renames: Map<string, string>): KubeObject[] {
  const globalOptions = (kustomization.generatorOptions ?? {}) as { disableNameSuffixHash?: boolean };
  return ((kustomization.configMapGenerator ?? []) as GeneratorSpec[]).map((spec) => {
    const extra = Object.keys(spec).filter((key) => !['name', 'files', 'literals', 'options'].includes(key));
    if (extra.length > 0) fail(dir, `configMapGenerator "${spec.name}": ${extra.join(', ')} not supported by this renderer`);
    const data = generatorData(dir, spec);
    const hashed = !(spec.options?.disableNameSuffixHash ?? globalOptions.disableNameSuffixHash ?? false);
    if (hashed) renames.set(spec.name, `${spec.name}-${configMapHash(spec.name, data)}`);
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: spec.name }, data };
  });
}

// ─── JSON patch (RFC 6902) ─────────────────────────────────────────────────────────────────────

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer "${path}" must start with /`);
  return path.slice(1).split('/').map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function parentOf(doc: Json, tokens: string[], op: string): { parent: Record<string, Json> | Json[]; key: string } {
  let node: Json = doc;
  for (const token of tokens.slice(0, -1)) {
    const next: Json = Array.isArray(node) ? node[Number(token)] : (node as Record<string, Json> | null)?.[token];
    if (next === undefined || next === null || typeof next !== 'object') throw new Error(`${op}: path /${tokens.join('/')} does not exist`);
    node = next;
  }
  return { parent: node as Record<string, Json> | Json[], key: tokens[tokens.length - 1] };
}

function getAt(doc: Json, path: string, op: string): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) return doc;
  const { parent, key } = parentOf(doc, tokens, op);
  const value = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (value === undefined) throw new Error(`${op}: ${path} does not exist`);
  return value;
}

function arrayIndex(list: Json[], key: string, forInsert: boolean, op: string): number {
  if (forInsert && key === '-') return list.length;
  const index = Number(key);
  const max = forInsert ? list.length : list.length - 1;
  if (!/^(0|[1-9][0-9]*)$/.test(key) || index > max) throw new Error(`${op}: index ${key} out of range`);
  return index;
}

function addAt(doc: Json, path: string, value: Json): void {
  const { parent, key } = parentOf(doc, pointer(path), 'add');
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, 'add'), 0, value);
  else parent[key] = value;
}

function removeAt(doc: Json, path: string, op = 'remove'): Json {
  const value = getAt(doc, path, op);
  const { parent, key } = parentOf(doc, pointer(path), op);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false, op), 1);
  else delete parent[key];
  return value;
}

interface PatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

const clone = <T>(value: T): T => structuredClone(value);

export function applyJsonPatch(doc: Json, operations: readonly PatchOperation[]): void {
  for (const operation of operations) {
    switch (operation.op) {
      case 'add':
        addAt(doc, operation.path, clone(operation.value));
        break;
      case 'remove':
        removeAt(doc, operation.path);
        break;
      case 'replace':
        removeAt(doc, operation.path, 'replace');
        addAt(doc, operation.path, clone(operation.value));
        break;
      case 'move':
        addAt(doc, operation.path, removeAt(doc, operation.from ?? '', 'move'));
        break;
      case 'copy':
        addAt(doc, operation.path, clone(getAt(doc, operation.from ?? '', 'copy')));
        break;
      case 'test':
        if (goJson(getAt(doc, operation.path, 'test')) !== goJson(operation.value ?? null)) {
          throw new Error(`test failed: ${operation.path} is not ${JSON.stringify(operation.value)}`);
        }
        break;
      default:
        throw new Error(`unknown JSON patch op "${operation.op}"`);
    }
  }
}

interface PatchSpec {
  path?: string;
  patch?: string;
  target?: { group?: string; version?: string; kind?: string; name?: string };
}

function matchesTarget(object: KubeObject, target: NonNullable<PatchSpec['target']>): boolean {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  return (
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version) &&
    (target.kind === undefined || target.kind === object.kind) &&
    (target.name === undefined || target.name === object.metadata.name)
  );
}

function applyPatches(dir: string, kustomization: Record<string, unknown>, objects: KubeObject[]): void {
  for (const spec of (kustomization.patches ?? []) as PatchSpec[]) {
    const text = spec.path === undefined ? spec.patch : readFileSync(join(dir, spec.path), 'utf8');
    if (text === undefined || spec.target === undefined) fail(dir, 'each patch needs a target and a path or patch');
    const operations = parse(text) as unknown;
    if (!Array.isArray(operations)) fail(dir, `patch ${spec.path ?? '(inline)'}: only JSON patches (a list of operations) are supported by this renderer`);
    const targets = objects.filter((object) => matchesTarget(object, spec.target ?? {}));
    if (targets.length === 0) fail(dir, `patch ${spec.path ?? '(inline)'} matches no resource`);
    for (const object of targets) applyJsonPatch(object, operations as PatchOperation[]);
  }
}

// ─── namespace, labels, name references ────────────────────────────────────────────────────────

type PodSpec = Record<string, unknown> & { containers?: Container[]; initContainers?: Container[]; volumes?: Volume[] };
type Container = Record<string, unknown> & {
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { valueFrom?: { configMapKeyRef?: { name: string } } }[];
};
type Volume = Record<string, unknown> & { configMap?: { name: string }; projected?: { sources?: { configMap?: { name: string } }[] } };

/** The pod template of a workload, when it has one. */
export function podTemplate(object: KubeObject): { metadata?: { labels?: Record<string, string> }; spec: PodSpec } | undefined {
  const spec = object.spec as { template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } } | undefined;
  return ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(object.kind) ? spec?.template : undefined;
}

function renameReferences(object: KubeObject, renames: ReadonlyMap<string, string>): void {
  const pod = podTemplate(object)?.spec;
  if (!pod) return;
  const rename = (ref: { name: string } | undefined): void => {
    if (ref) ref.name = renames.get(ref.name) ?? ref.name;
  };
  for (const volume of pod.volumes ?? []) {
    rename(volume.configMap);
    for (const source of volume.projected?.sources ?? []) rename(source.configMap);
  }
  for (const container of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
    for (const from of container.envFrom ?? []) rename(from.configMapRef);
    for (const variable of container.env ?? []) rename(variable.valueFrom?.configMapKeyRef);
  }
}

interface LabelSpec {
  pairs: Record<string, string>;
  includeSelectors?: boolean;
  includeTemplates?: boolean;
}

function addLabels(object: KubeObject, spec: LabelSpec): void {
  object.metadata.labels = { ...object.metadata.labels, ...spec.pairs };
  const template = podTemplate(object);
  if (template && (spec.includeSelectors || spec.includeTemplates)) template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...spec.pairs } };
  if (!spec.includeSelectors) return;
  const spec_ = object.spec as { selector?: Record<string, unknown> & { matchLabels?: Record<string, string> } } | undefined;
  if (object.kind === 'Service' && spec_) spec_.selector = { ...spec_.selector, ...spec.pairs };
  else if (template && spec_) spec_.selector = { ...spec_.selector, matchLabels: { ...spec_.selector?.matchLabels, ...spec.pairs } };
}

// ─── rendering ─────────────────────────────────────────────────────────────────────────────────

function renderLayer(dir: string): Rendered {
  const kustomization = readKustomization(dir);
  const renames = new Map<string, string>();
  const objects: KubeObject[] = [];
  for (const entry of (kustomization.resources ?? []) as string[]) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      const below = renderLayer(path);
      objects.push(...below.objects);
      for (const [from, to] of below.renames) renames.set(from, to);
    } else {
      objects.push(...readManifests(path));
    }
  }
  const generated = generate(dir, kustomization, renames);
  objects.push(...generated);
  applyPatches(dir, kustomization, objects);
  const namespace = kustomization.namespace as string | undefined;
  if (namespace !== undefined) for (const object of objects) if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = namespace;
  for (const spec of (kustomization.labels ?? []) as LabelSpec[]) for (const object of objects) addLabels(object, spec);
  for (const configMap of generated) configMap.metadata.name = renames.get(configMap.metadata.name) ?? configMap.metadata.name;
  for (const object of objects) renameReferences(object, renames);
  return { objects, renames };
}

/** Renders the kustomization in `dir` (like `kubectl kustomize dir`) into plain objects. */
export function renderKustomization(dir: string): KubeObject[] {
  const { objects } = renderLayer(dir);
  const seen = new Set<string>();
  for (const object of objects) {
    const id = `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    if (seen.has(id)) throw new Error(`${dir}: ${id} is defined twice`);
    seen.add(id);
  }
  return objects;
}
