// deploy/Dockerfile without a Docker engine (there is none here): its structure is checked
// against the config defaults and the build context, then its stages are carried out on a copy
// of the build context in a temporary directory — the build stage's RUN steps as written (npm ci,
// native module, tsc, prune), the runtime stage's copies — and the result is started with the
// image's ENTRYPOINT and CMD, asked by the image's HEALTHCHECK command, sent telemetry and stopped.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../collector/config/config.js';
import { commandOf, contextFiles, isIgnored, parseCopy, readDockerfile } from './dockerfile.js';
import type { Instruction, Stage } from './dockerfile.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEFAULTS = parseConfig('', '<defaults>', {});
const { stages, ignore } = readDockerfile(ROOT);

function stage(name: string): Stage {
  const found = stages.find((s) => s.name === name);
  assert.ok(found, `stage ${name}`);
  return found;
}

const only = (s: Stage, name: string): Instruction[] => s.instructions.filter((i) => i.name === name);
const last = (s: Stage, name: string): Instruction | undefined => only(s, name).at(-1);

function envOf(s: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of only(s, 'ENV')) {
    for (const pair of instruction.args.split(/\s+/)) {
      const at = pair.indexOf('=');
      if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  return env;
}

const runtime = stage('runtime');
const build = stage('build');
const entrypoint = commandOf(last(runtime, 'ENTRYPOINT')?.args ?? '[]');
const cmd = commandOf(last(runtime, 'CMD')?.args ?? '[]');
const configCopy = only(runtime, 'COPY').map((i) => parseCopy(i.args)).find((c) => c.destination === cmd[cmd.indexOf('--config') + 1]);
const containerConfigText = readFileSync(join(ROOT, configCopy?.sources[0] ?? 'missing'), 'utf8');
const containerConfig = parseConfig(containerConfigText, 'container config', {});

describe('deploy/Dockerfile: structure', () => {
  it('has a build stage with the native toolchain and a slim runtime stage on the same base', () => {
    assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime']);
    assert.equal(runtime.base, build.base, 'the same base, so the native module matches the runtime libc');
    assert.match(runtime.base, /^node:20\.[0-9.]+-[a-z]+-slim$/);
    const apt = only(build, 'RUN').find((i) => i.args.includes('apt-get install'));
    for (const tool of ['python3', 'make', 'g++']) assert.match(apt?.args ?? '', new RegExp(`\\s${tool.replace('+', '\\+')}(\\s|$)`));
    assert.equal(envOf(build).npm_config_nodedir, '/usr/local', 'node images keep their headers under /usr/local/include/node');
    assert.equal(envOf(build).npm_config_build_from_source, 'true');
    assert.deepEqual(
      only(build, 'RUN').map((i) => i.args).filter((a) => a.startsWith('npm')),
      ['npm ci --no-audit --no-fund --ignore-scripts', 'npm rebuild better-sqlite3 zstd-napi', 'npm run build', 'npm prune --omit=dev --no-audit --no-fund'],
    );
    assert.ok(!runtime.instructions.some((i) => i.name === 'RUN' && /apt-get|npm /.test(i.args)), 'nothing is installed in the runtime stage');
  });

  it('runs as a numeric non-root user', () => {
    const user = last(runtime, 'USER')?.args ?? '';
    const [uid, gid] = user.split(':').map(Number);
    assert.ok(uid > 0 && gid > 0, `USER ${user} is numeric and not root (Kubernetes runAsNonRoot can verify it)`);
    const chown = only(runtime, 'RUN').find((i) => i.args.includes('chown'));
    assert.match(chown?.args ?? '', new RegExp(`chown ${uid}:${gid} ${containerConfig.data_dir}$`));
  });

  it('serves the same defaults as tollgate serve, bound to every interface, with data on the volume', () => {
    assert.deepEqual(entrypoint, ['node', '/app/dist/cli/main.js']);
    assert.deepEqual(cmd, ['serve', '--config', '/etc/tollgate/tollgate.yaml']);
    // Only the listen hosts and the data directory differ from the embedded default.
    const { http, grpc } = containerConfig.receivers.otlp.protocols;
    for (const endpoint of [http.endpoint, grpc.endpoint, containerConfig.api.endpoint]) assert.equal(endpoint.host, '0.0.0.0');
    const normalize = (config: typeof DEFAULTS): unknown => {
      const copy = structuredClone(config) as unknown as Record<string, unknown> & typeof DEFAULTS;
      return JSON.parse(JSON.stringify(copy).replaceAll('"0.0.0.0"', '"127.0.0.1"').replaceAll(JSON.stringify(containerConfig.data_dir).slice(1, -1), './data'));
    };
    assert.deepEqual(normalize(containerConfig), normalize(DEFAULTS));
    assert.deepEqual(commandOf(last(runtime, 'VOLUME')?.args ?? '[]'), [containerConfig.data_dir]);
  });

  it('EXPOSEs exactly the default ports', () => {
    const exposed = (last(runtime, 'EXPOSE')?.args ?? '').split(/\s+/).map(Number).sort();
    const defaults = [DEFAULTS.receivers.otlp.protocols.grpc.endpoint.port, DEFAULTS.receivers.otlp.protocols.http.endpoint.port, DEFAULTS.api.endpoint.port].sort();
    assert.deepEqual(exposed, defaults);
    const { http, grpc } = containerConfig.receivers.otlp.protocols;
    assert.deepEqual([grpc.endpoint.port, http.endpoint.port, containerConfig.api.endpoint.port].sort(), defaults);
  });

  it('has a HEALTHCHECK that needs no curl: node asks /healthz on the API port', () => {
    const healthcheck = last(runtime, 'HEALTHCHECK')?.args ?? '';
    const command = commandOf(healthcheck.replace(/^(--\S+\s+)*CMD\s+/, ''));
    assert.equal(command[0], 'node');
    assert.ok(command.join(' ').includes(`http://127.0.0.1:${containerConfig.api.endpoint.port}/healthz`));
  });

  it('copies only what exists in the build context, and the context leaves out local state and tests', () => {
    const files = contextFiles(ROOT, ignore);
    const sources = stages.flatMap((s) => only(s, 'COPY').map((i) => parseCopy(i.args)).filter((c) => c.from === undefined).flatMap((c) => c.sources));
    for (const source of sources) assert.ok(files.some((f) => f === source || f.startsWith(`${source}/`)), `COPY ${source}: not in the build context`);
    for (const path of ['node_modules/yaml/package.json', 'dist/cli/main.js', 'data/tollgate.db', '.git/HEAD', 'test/run-tests.mjs', 'README.md', 'deploy/Dockerfile']) {
      assert.ok(isIgnored(ignore, path), `${path} is kept out of the context`);
    }
    assert.ok(files.includes('cli/main.ts') && files.includes('package-lock.json'));
    assert.ok(!files.some((f) => f.endsWith('.test.ts') || f.split('/').includes('testdata')));
    // COPY --from sources come from the build stage's outputs (checked when the stage is run below).
    assert.deepEqual(only(runtime, 'COPY').map((i) => parseCopy(i.args)).filter((c) => c.from === 'build').flatMap((c) => c.sources), ['/app/package.json', '/app/node_modules', '/app/dist', '/app/api/dashboard']);
  });
});

// ─── Carrying the stages out ──────────────────────────────────────────────────────────────────

/** The native modules the build stage compiles, and the binary each build leaves. */
const NATIVE: Readonly<Record<string, string>> = {
  'better-sqlite3': 'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
  'zstd-napi': 'node_modules/zstd-napi/build/Release/binding.node',
};
const NATIVE_REBUILD = `npm rebuild ${Object.keys(NATIVE).join(' ')}`;

/**
 * The rebuild compiles SQLite and zstd with node-gyp: about 1–2 minutes of the ~3 this test
 * takes here. When this checkout's own modules are the locked versions and were built (by
 * `npm ci` in CI, with the same Node and the same from-source flags), that step copies their
 * binaries instead; TOLLGATE_DEPLOY_NATIVE_BUILD=1 forces the real compile.
 */
function reusableNativeModules(): boolean {
  if (process.env.TOLLGATE_DEPLOY_NATIVE_BUILD === '1') return false;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  return Object.entries(NATIVE).every(([name, binary]) => {
    const installed = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return installed.version === lock.packages[`node_modules/${name}`].version && existsSync(join(ROOT, binary));
  });
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): void {
  const started = Date.now();
  const result = spawnSync('/bin/sh', ['-c', command], { cwd, env, encoding: 'utf8', timeout: 8 * 60_000, maxBuffer: 64 * 2 ** 20 });
  assert.equal(result.status, 0, `RUN ${command} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`);
  console.log(`# RUN ${command}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Maps an absolute path in the image to the directory standing in for the image's filesystem. */
const inImage = (root: string, path: string): string => join(root, path);

function copyInto(from: string, sources: readonly string[], destination: string, root: string, workdir: string): void {
  const target = inImage(root, posix.isAbsolute(destination) ? destination : posix.join(workdir, destination));
  for (const source of sources) {
    const into = destination.endsWith('/') ? join(target, posix.basename(source)) : target;
    mkdirSync(dirname(into), { recursive: true });
    cpSync(join(from, source), into, { recursive: true });
  }
}

describe('deploy/Dockerfile: the stages carried out on a copy of the build context', { timeout: 15 * 60_000 }, () => {
  let work: string;
  let buildRoot: string;
  let runtimeRoot: string;
  const log: string[] = [];

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-docker-'));
    const context = join(work, 'context');
    for (const file of contextFiles(ROOT, ignore)) {
      mkdirSync(dirname(join(context, file)), { recursive: true });
      cpSync(join(ROOT, file), join(context, file));
    }
    buildRoot = join(work, 'build');
    runtimeRoot = join(work, 'runtime');
    let workdir = '/';
    // The image's ENV, except node-gyp's header directory: here Node's headers are those of this
    // machine (npm_config_nodedir as .ci/run sets it), not the node image's /usr/local.
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_prefer_offline: 'true' };
    const reuse = reusableNativeModules();
    for (const instruction of build.instructions) {
      if (instruction.name === 'WORKDIR') {
        workdir = instruction.args;
        mkdirSync(inImage(buildRoot, workdir), { recursive: true });
      } else if (instruction.name === 'ENV') {
        Object.assign(env, envOf({ ...build, instructions: [instruction] }), { npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr' });
      } else if (instruction.name === 'COPY') {
        const copy = parseCopy(instruction.args);
        copyInto(context, copy.sources, copy.destination, buildRoot, workdir);
      } else if (instruction.name === 'RUN') {
        if (instruction.args.startsWith('apt-get')) {
          // The toolchain the stage installs must be what the native build finds here.
          for (const tool of ['python3', 'make', 'g++']) assert.equal(spawnSync('/bin/sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is needed for the native build`);
          log.push('apt-get: toolchain present on this machine');
        } else if (instruction.args === NATIVE_REBUILD && reuse) {
          for (const binary of Object.values(NATIVE)) {
            const target = join(inImage(buildRoot, workdir), binary);
            mkdirSync(dirname(target), { recursive: true });
            cpSync(join(ROOT, binary), target);
          }
          log.push(`${NATIVE_REBUILD}: reused ${Object.values(NATIVE).join(', ')} (same versions, same Node)`);
        } else {
          run(instruction.args, inImage(buildRoot, workdir), env);
        }
      } else {
        assert.ok(['ARG'].includes(instruction.name), `build stage instruction ${instruction.name} is not carried out by this test`);
      }
    }
    workdir = '/';
    for (const instruction of runtime.instructions) {
      if (instruction.name === 'WORKDIR') workdir = instruction.args;
      else if (instruction.name === 'COPY') {
        const copy = parseCopy(instruction.args);
        if (copy.from === 'build') copyInto(buildRoot, copy.sources.map((s) => s.slice(1)), copy.destination, runtimeRoot, workdir);
        else copyInto(context, copy.sources, copy.destination, runtimeRoot, workdir);
      } else if (instruction.name === 'RUN') {
        const match = /^mkdir -p (\S+) && chown \S+ \S+$/.exec(instruction.args);
        assert.ok(match, `runtime RUN ${instruction.args} is not carried out by this test`);
        mkdirSync(inImage(runtimeRoot, match[1]), { recursive: true });
      }
    }
    console.log(`# ${log.join('; ')}`);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the pruned image holds the compiled code, the native modules and no dev dependency', () => {
    const app = inImage(runtimeRoot, '/app');
    assert.ok(existsSync(join(app, 'dist/cli/main.js')));
    for (const binary of Object.values(NATIVE)) assert.ok(existsSync(join(app, binary)), `${binary} is in the image`);
    // The Kafka exporter's zstd codec loads from the image's own node_modules.
    const zstd = spawnSync(process.execPath, ['-e', "require('zstd-napi').compress(Buffer.from('x'))"], { cwd: app, encoding: 'utf8' });
    assert.equal(zstd.status, 0, zstd.stderr);
    for (const dev of ['typescript', 'tsx', 'eslint', 'fast-check', 'kubernetes-models']) assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} was pruned`);
    for (const prod of ['better-sqlite3', 'express', '@grpc/grpc-js', 'yaml']) assert.ok(existsSync(join(app, 'node_modules', prod)), `${prod} is kept`);
  });

  it('starts with the image ENTRYPOINT and CMD, passes the HEALTHCHECK, accepts OTLP and stops on SIGTERM', async () => {
    // The image's config, with ephemeral loopback ports (this machine is shared) and the data
    // directory inside the stand-in filesystem.
    const configPath = inImage(runtimeRoot, cmd[cmd.indexOf('--config') + 1]);
    const dataDir = inImage(runtimeRoot, containerConfig.data_dir);
    writeFileSync(configPath, containerConfigText.replace(/0\.0\.0\.0:\d+/g, '127.0.0.1:0').replace(`data_dir: ${containerConfig.data_dir}`, `data_dir: ${dataDir}`));
    const [node, ...entryArgs] = entrypoint;
    assert.equal(node, 'node');
    const argv = [...entryArgs, ...cmd].map((arg) => (arg.startsWith('/') ? inImage(runtimeRoot, arg) : arg));
    // No tsx, no source tree: only what the image holds. The working directory is the image's WORKDIR.
    const child = spawn(process.execPath, argv, { cwd: inImage(runtimeRoot, '/app'), env: { PATH: process.env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const started = await new Promise<{ api: string; http: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start within 20 s:\n${stderr}`)), 20_000);
        child.stderr.on('data', (chunk: string) => {
          stderr += chunk;
          const line = stderr.split('\n').find((l) => l.includes('"Tollgate started"'));
          if (line) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as { api: string; http: string });
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
      });
      // The HEALTHCHECK command as written, pointed at the ephemeral API port.
      const healthcheck = commandOf((last(runtime, 'HEALTHCHECK')?.args ?? '').replace(/^(--\S+\s+)*CMD\s+/, ''));
      const probe = healthcheck.map((arg) => arg.replace(`127.0.0.1:${containerConfig.api.endpoint.port}`, started.api));
      const healthy = spawnSync(process.execPath, probe.slice(1), { timeout: 10_000 });
      assert.equal(healthy.status, 0, 'HEALTHCHECK passes');
      const unhealthy = spawnSync(process.execPath, probe.slice(1).map((arg) => arg.replace('/healthz', '/no-such-route')), { timeout: 10_000 });
      assert.equal(unhealthy.status, 1, 'the HEALTHCHECK command fails when the answer is not OK');
      assert.equal((await fetch(`http://${started.api}/readyz`)).status, 200);
      // The dashboard's static files are in the image (tsc does not put them into dist/).
      const page = await fetch(`http://${started.api}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.equal((await fetch(`http://${started.api}/dashboard/main.js`)).status, 200);
      const body = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 9, body: { stringValue: 'from the image' } }] }] }] };
      const response = await fetch(`http://${started.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      // The native module works: the SQLite usage store was created on the data volume.
      assert.ok(existsSync(join(dataDir, 'tollgate.db')));
      assert.ok(readFileSync(join(dataDir, 'export/logs.jsonl'), 'utf8').includes('from the image'));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
