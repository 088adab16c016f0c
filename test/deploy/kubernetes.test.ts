// Renders every overlay under deploy/kubernetes/ (test/deploy/kustomize.ts, a Kustomize subset),
// validates each manifest against the Kubernetes API schemas (kubernetes-models: validators
// generated from the official OpenAPI definitions) and checks the wiring that matters: probes on
// the API's port and paths, the mounted config and rules being what --config and --rules read,
// non-root, hot-reloadable rules, and data on an emptyDir.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { parseConfig } from '../../collector/config/config.js';
import type { TollgateConfig } from '../../collector/config/config.js';
import { parseRules } from '../../rules/index.js';
import { configMapHash, podTemplate, renderKustomization } from './kustomize.js';
import type { KubeObject } from './kustomize.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const KUBE = join(ROOT, 'deploy/kubernetes');
const OVERLAYS = ['sidecar', 'native-sidecar', 'gateway'] as const;
const DEFAULTS = parseConfig('', '<defaults>', {});

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
};

function validateAgainstSchema(object: KubeObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  assert.ok(Model, `no schema model registered for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  restartPolicy?: string;
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean };
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; configMap?: { name: string }; emptyDir?: Record<string, unknown> }[];
}

function flagValue(args: readonly string[], flag: string): string {
  const index = args.indexOf(flag);
  assert.ok(index >= 0 && index + 1 < args.length, `tollgate args ${JSON.stringify(args)} lack ${flag}`);
  return args[index + 1];
}

/** What a path inside the container is: the volume and the key (file) under its mount. */
function mountedFile(pod: PodSpec, container: Container, path: string): { volume: NonNullable<PodSpec['volumes']>[number]; key: string; subPath?: string } {
  const mount = (container.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  assert.ok(mount, `${path} is on no volume mount of ${container.name}`);
  const volume = pod.volumes?.find((v) => v.name === mount.name);
  assert.ok(volume, `volume ${mount.name} is not defined`);
  return { volume, key: posix.relative(mount.mountPath, path), subPath: mount.subPath };
}

function configMapData(objects: readonly KubeObject[], name: string): Record<string, string> {
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  assert.ok(configMap, `ConfigMap ${name} is referenced but not rendered`);
  return configMap.data as Record<string, string>;
}

interface Rendered {
  readonly objects: KubeObject[];
  readonly deployment: KubeObject;
  readonly pod: PodSpec;
  readonly tollgate: Container;
  readonly config: TollgateConfig;
  readonly configMapName: string;
  readonly rulesText: string;
  readonly rulesMountSubPath?: string;
}

function render(overlay: string): Rendered {
  const objects = renderKustomization(join(KUBE, 'overlays', overlay));
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  assert.equal(deployments.length, 1, `${overlay}: one Deployment`);
  const deployment = deployments[0];
  const pod = podTemplate(deployment)?.spec as unknown as PodSpec;
  const tollgate = [...pod.containers, ...(pod.initContainers ?? [])].find((c) => c.name === 'tollgate');
  assert.ok(tollgate, `${overlay}: a container named tollgate`);
  const args = tollgate.args ?? [];
  assert.equal(args[0], 'serve');
  const configFile = mountedFile(pod, tollgate, flagValue(args, '--config'));
  assert.ok(configFile.volume.configMap, 'the config comes from a ConfigMap');
  const configMapName = configFile.volume.configMap.name;
  const configText = configMapData(objects, configMapName)[configFile.key];
  assert.ok(configText, `ConfigMap ${configMapName} has the key ${configFile.key} that --config reads`);
  const rulesFile = mountedFile(pod, tollgate, flagValue(args, '--rules'));
  assert.ok(rulesFile.volume.configMap, 'the rules come from a ConfigMap');
  const rulesText = configMapData(objects, rulesFile.volume.configMap.name)[rulesFile.key];
  assert.ok(rulesText, `the rules ConfigMap has the key ${rulesFile.key} that --rules reads`);
  assert.equal(rulesFile.volume.configMap.name, 'tollgate-rules', 'the rules ConfigMap keeps its name (no hash suffix), so edits update it in place');
  return { objects, deployment, pod, tollgate, config: parseConfig(configText, `${overlay}/${configFile.key}`, {}), configMapName, rulesText, rulesMountSubPath: rulesFile.subPath };
}

describe('deploy/kubernetes overlays', () => {
  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const rendered = render(overlay);
      const { objects, pod, tollgate, config } = rendered;

      it('every rendered manifest is valid against the Kubernetes API schema', () => {
        assert.ok(objects.length >= 3);
        for (const object of objects) validateAgainstSchema(object);
      });

      it('the mounted config and rules are valid, and rules reach Tollgate so that edits hot-reload', () => {
        assert.match(parseRules(rendered.rulesText, 'rules.yaml').hash, /^[0-9a-f]+$/);
        // The kubelet never updates a subPath mount; the watcher would never see an edit.
        assert.equal(rendered.rulesMountSubPath, undefined);
        // Read once at start: a hashed name makes a config edit roll the pods.
        const expected = `${rendered.configMapName.replace(/-[a-z0-9]{10}$/, '')}`;
        assert.equal(rendered.configMapName, `${expected}-${configMapHash(expected, configMapData(objects, rendered.configMapName))}`);
      });

      it('probes ask /readyz and /healthz on the port the API listens on, which is the default API port', () => {
        const apiPort = config.api.endpoint.port;
        assert.equal(apiPort, DEFAULTS.api.endpoint.port);
        // The kubelet probes the pod IP: the API must listen on every interface.
        assert.equal(config.api.endpoint.host, '0.0.0.0');
        assert.deepEqual(tollgate.readinessProbe?.httpGet, { path: '/readyz', port: apiPort });
        assert.deepEqual(tollgate.livenessProbe?.httpGet, { path: '/healthz', port: apiPort });
        const ports = (tollgate.ports ?? []).map((p) => p.containerPort).sort();
        const { http, grpc } = config.receivers.otlp.protocols;
        assert.deepEqual(ports, [grpc.endpoint.port, http.endpoint.port, apiPort].sort());
        assert.deepEqual([grpc.endpoint.port, http.endpoint.port], [DEFAULTS.receivers.otlp.protocols.grpc.endpoint.port, DEFAULTS.receivers.otlp.protocols.http.endpoint.port]);
      });

      it('runs as non-root on a read-only root filesystem, with its data_dir on an emptyDir', () => {
        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.ok((pod.securityContext?.runAsUser ?? 0) > 0);
        assert.equal(tollgate.securityContext?.allowPrivilegeEscalation, false);
        assert.equal(tollgate.securityContext?.readOnlyRootFilesystem, true);
        const data = mountedFile(pod, tollgate, `${config.data_dir}/tollgate.db`);
        assert.ok(data.volume.emptyDir, 'data_dir is on an emptyDir');
        assert.notEqual((tollgate.volumeMounts ?? []).find((m) => m.mountPath === config.data_dir)?.readOnly, true);
      });

      it('has resource requests, a memory limit above the in-flight limit, and time to drain on shutdown', () => {
        assert.ok(tollgate.resources?.requests?.cpu && tollgate.resources.requests.memory);
        const limitMi = Number(/^(\d+)Mi$/.exec(tollgate.resources.limits?.memory ?? '')?.[1] ?? Number(/^(\d+)Gi$/.exec(tollgate.resources.limits?.memory ?? '')?.[1]) * 1024);
        assert.ok(limitMi > 0, 'a memory limit in Mi or Gi');
        // Idle RSS is about 75 MiB (docs/benchmarks.md); the in-flight bytes come on top.
        assert.ok(config.limits.memory_limit + 75 * 2 ** 20 < limitMi * 2 ** 20, `memory_limit ${config.limits.memory_limit} leaves no room under ${limitMi}Mi`);
        assert.ok((pod.terminationGracePeriodSeconds ?? 30) * 1000 > config.shutdown.drain_timeout);
      });

      it('exports to the collector over OTLP/HTTP', () => {
        const exporters = Object.values(config.exporters);
        assert.deepEqual(exporters.map((e) => e.type), ['otlphttp']);
      });
    });
  }

  it('sidecar: the app exports to its Tollgate over the pod loopback, and only there', () => {
    const { pod, config } = render('sidecar');
    const app = pod.containers.find((c) => c.name === 'app');
    const endpoint = app?.env?.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value;
    const http = config.receivers.otlp.protocols.http.endpoint;
    assert.equal(endpoint, `http://127.0.0.1:${http.port}`);
    assert.equal(http.host, '127.0.0.1');
    assert.equal(config.receivers.otlp.protocols.grpc.endpoint.host, '127.0.0.1');
  });

  it('native-sidecar: Tollgate is an init container with restartPolicy Always, started (ready) before the app', () => {
    const { pod, tollgate, config } = render('native-sidecar');
    assert.deepEqual(pod.containers.map((c) => c.name), ['app']);
    assert.deepEqual(pod.initContainers?.map((c) => c.name), ['tollgate']);
    assert.equal(tollgate.restartPolicy, 'Always');
    assert.deepEqual(tollgate.startupProbe?.httpGet, { path: '/readyz', port: config.api.endpoint.port });
    // Everything else is the sidecar overlay's container, moved.
    const { tollgate: regular } = render('sidecar');
    const { restartPolicy: _r, startupProbe: _s, ...moved } = tollgate;
    assert.deepEqual(moved, regular);
  });

  it('gateway: the Service selects the pods and forwards to the receivers and the API', () => {
    const { objects, deployment, tollgate, config } = render('gateway');
    const service = objects.find((o) => o.kind === 'Service') as unknown as { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } };
    const labels = podTemplate(deployment)?.metadata?.labels ?? {};
    for (const [key, value] of Object.entries(service.spec.selector)) assert.equal(labels[key], value, `selector ${key}`);
    const { http, grpc } = config.receivers.otlp.protocols;
    assert.equal(http.endpoint.host, '0.0.0.0');
    assert.equal(grpc.endpoint.host, '0.0.0.0');
    const byName = new Map((tollgate.ports ?? []).map((p) => [p.name, p.containerPort]));
    const routes = service.spec.ports.map((p) => [p.port, byName.get(p.targetPort)]);
    assert.deepEqual(routes, [
      [grpc.endpoint.port, grpc.endpoint.port],
      [http.endpoint.port, http.endpoint.port],
      [config.api.endpoint.port, config.api.endpoint.port],
    ]);
    assert.ok(((deployment.spec as { replicas?: number }).replicas ?? 1) >= 2, 'a gateway has more than one replica');
  });

  it('generated ConfigMap names carry the suffix Kustomize computes', () => {
    // Kustomize's own test vector (api/hasher: a ConfigMap with data {one: ""} and no name).
    assert.equal(configMapHash('', { one: '' }), '9g67k2htb6');
    // Go's encoder escapes <, > and & in strings (JSON.stringify does not): the hash is over this text.
    const goEncoded = String.raw`{"data":{"a":"\u003c\u0026\u003e\n"},"kind":"ConfigMap","name":"x"}`;
    const expected = [...createHash('sha256').update(goEncoded).digest('hex').slice(0, 10)].map((c) => ({ '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' })[c] ?? c).join('');
    assert.equal(configMapHash('x', { a: '<&>\n' }), expected);
  });

  it('the schema validation is real: a wrong field type is refused', () => {
    const { deployment } = render('sidecar');
    const broken = structuredClone(deployment);
    (podTemplate(broken)?.spec as unknown as PodSpec).containers[1].ports = [{ containerPort: 'api' as unknown as number }];
    assert.throws(() => validateAgainstSchema(broken), /containerPort/);
    const noImage = structuredClone(deployment);
    delete (noImage.metadata as { name?: string }).name;
    (podTemplate(noImage)?.spec as unknown as { containers: unknown }).containers = 'tollgate';
    assert.throws(() => validateAgainstSchema(noImage), /containers/);
  });

  it('the renderer refuses what it does not implement, and JSON patch test ops guard the sidecar move', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-kustomize-'));
    try {
      cpSync(KUBE, join(dir, 'kubernetes'), { recursive: true });
      writeFileSync(join(dir, 'kubernetes/overlays/sidecar/kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: x-\nresources: [../../base]\n');
      assert.throws(() => renderKustomization(join(dir, 'kubernetes/overlays/sidecar')), /"namePrefix" is not supported/);
      writeFileSync(
        join(dir, 'kubernetes/overlays/sidecar/kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../../base, deployment.yaml]\nconfigMapGenerator: [{name: tollgate-config, files: [tollgate.yaml]}]\npatches:\n  - target: {kind: Deployment, name: checkout}\n    patch: "[{op: move, from: /spec/template/spec/containers/0, path: /spec/template/spec/containers/-}]"\n',
      );
      // The app is now second: the native-sidecar patch's test op must stop it moving the app.
      assert.throws(() => renderKustomization(join(dir, 'kubernetes/overlays/native-sidecar')), /test failed: \/spec\/template\/spec\/containers\/1\/name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
