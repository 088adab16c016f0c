// A real single-node Apache Kafka broker (KRaft, combined broker+controller) for the tests.
// The broker's jars come from Maven Central through test/kafka/pom.xml into a cache outside the
// repo; each broker gets a fresh temp dir holding its config, storage and logs.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pinnedCommand } from '../../bench/machine.js';
import { repoRootAbove } from '../../bench/repo-root.js';
import { freePort } from '../../bench/tollgate-process.js';
import { registerKafkaCodecs } from '../../collector/exporters/kafka-codecs.js';

const POM_PATH = 'test/kafka/pom.xml';
const POM = join(repoRootAbove(import.meta.url, POM_PATH), POM_PATH);

export interface KafkaBroker {
  /** host:port of the PLAINTEXT listener, for kafkajs `brokers`. */
  readonly bootstrap: string;
  /** The broker's temp dir (server.properties, data/, logs/server.log). */
  readonly dir: string;
  /** Milliseconds from spawning the JVM until a kafkajs admin could describe the cluster (last start). */
  readonly startMs: number;
  /** Milliseconds the storage format took (a separate JVM, first start only). */
  readonly formatMs: number;
  /** The broker JVM's pid while it runs (the bench reads its CPU time). */
  readonly pid: number | undefined;
  /** Stops the JVM (SIGTERM, SIGKILL after a timeout); the storage stays, so `start` can resume it. */
  halt(): Promise<void>;
  /** Starts the JVM again on the same ports and storage after `halt` (topics and offsets survive). */
  start(): Promise<void>;
  /** Stops the broker and deletes its temp dir. */
  stop(): Promise<void>;
}

export interface KafkaBrokerOptions {
  /** Partitions of auto-created topics (default 3, so keyed messages can land on different partitions). */
  partitions?: number;
  /** Time allowed for the first start, jar fetch excluded (default 90 s on a shared 2-core machine). */
  startTimeoutMs?: number;
  /** Runs the broker JVM on this core only (taskset), so a benchmark can keep it off the measured process's core. */
  core?: number;
}

/** The Kafka version pinned in test/kafka/pom.xml. */
export function kafkaVersion(): string {
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(POM, 'utf8'));
  if (!match) throw new Error(`no <kafka.version> in ${POM}`);
  return match[1];
}

/** Where the broker's jars are cached: $TOLLGATE_KAFKA_CACHE, or ~/.cache/tollgate/kafka/<version>/. */
export function kafkaCacheDir(): string {
  return process.env.TOLLGATE_KAFKA_CACHE ?? join(homedir(), '.cache', 'tollgate', 'kafka', kafkaVersion());
}

function commandWorks(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  return result.status === 0;
}

/**
 * Why the Kafka tests cannot run here, or undefined when they can. Use as `{ skip: kafkaSkipReason() }`.
 * Under CI it is always undefined: a missing Java or Maven must fail the tests there, not skip them.
 */
export function kafkaSkipReason(): string | undefined {
  if (process.env.CI) return undefined;
  if (!commandWorks('java', ['-version'])) return 'Kafka tests need Java 17+ on PATH (java not found); skipped outside CI';
  const cached = existsSync(join(kafkaCacheDir(), '.complete'));
  if (!cached && !commandWorks('mvn', ['-v'])) return 'Kafka tests need Maven on PATH to fetch the broker (mvn not found); skipped outside CI';
  return undefined;
}

/**
 * Fetches the broker's jars into the cache unless a complete copy is there already, and returns
 * the cache dir. Maven copies into a sibling temp dir that is renamed into place, so an
 * interrupted or concurrent fetch never leaves a half-filled cache behind.
 */
export function ensureKafkaJars(): string {
  const dir = kafkaCacheDir();
  if (existsSync(join(dir, '.complete'))) return dir;
  const parent = join(dir, '..');
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, '.fetch-'));
  const result = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', POM, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${staging}`], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`fetching Kafka ${kafkaVersion()} with Maven failed (exit ${result.status}): ${result.error?.message ?? ''}\n${result.stdout}\n${result.stderr}`);
  }
  writeFileSync(join(staging, '.complete'), `${new Date().toISOString()}\n`);
  try {
    renameSync(staging, dir);
  } catch (error) {
    // Another process finished the same fetch first; its copy is as good as ours.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, '.complete'))) throw error;
  }
  return dir;
}

/** A KRaft cluster id: 16 random bytes, base64url without padding (Kafka's Uuid text form). */
/** A random cluster id (a base64url Kafka Uuid); never one starting with `-`, which the storage tool's argument parser would read as a flag. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(dir: string, brokerPort: number, controllerPort: number, partitions: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${join(dir, 'data')}`,
    `num.partitions=${partitions}`,
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    // One offsets partition instead of 50: the group coordinator is ready much sooner.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    // Consumer groups in tests form at once instead of waiting 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

function log4jProperties(logDir: string): string {
  return [
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${join(logDir, 'server.log')}`,
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.org.apache.kafka.controller=INFO',
    '',
  ].join('\n');
}

function javaArgs(jarDir: string, dir: string, mainClass: string, args: string[]): string[] {
  const classpath = readdirSync(jarDir)
    .filter((name) => name.endsWith('.jar'))
    .map((name) => join(jarDir, name))
    .join(':');
  return [
    '-Xms128m',
    '-Xmx512m',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
    `-Dkafka.logs.dir=${join(dir, 'logs')}`,
    '-cp',
    classpath,
    mainClass,
    ...args,
  ];
}

function tail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** True once a kafkajs admin can connect and describe the cluster with one broker in it. */
async function brokerAnswers(bootstrap: string): Promise<boolean> {
  const admin = new Kafka({ brokers: [bootstrap], clientId: 'tollgate-test-probe', logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts a fresh broker on free loopback ports and resolves once kafkajs can talk to it. Fetches
 * the jars first when they are not cached (Maven, a few seconds with a warm ~/.m2).
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const jarDir = ensureKafkaJars();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-kafka-'));
  mkdirSync(join(dir, 'logs'));
  const brokerPort = await freePort();
  let controllerPort = await freePort();
  // freePort lets its port go at once, so a second call can hand out the same one.
  while (controllerPort === brokerPort) controllerPort = await freePort();
  const bootstrap = `127.0.0.1:${brokerPort}`;
  const propsPath = join(dir, 'server.properties');
  writeFileSync(propsPath, serverProperties(dir, brokerPort, controllerPort, options.partitions ?? 3));
  writeFileSync(join(dir, 'log4j.properties'), log4jProperties(join(dir, 'logs')));
  const formatBegan = Date.now();
  const format = spawnSync('java', javaArgs(jarDir, dir, 'kafka.tools.StorageTool', ['format', '-t', clusterId(), '-c', propsPath]), {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (format.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kafka storage format failed (exit ${format.status}): ${format.error?.message ?? ''}\n${format.stdout}\n${format.stderr}`);
  }
  const formatMs = Date.now() - formatBegan;

  let child: ChildProcess | undefined;
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const launch = async (timeoutMs: number): Promise<number> => {
    const began = Date.now();
    let output = '';
    const java = { command: 'java', args: javaArgs(jarDir, dir, 'kafka.Kafka', [propsPath]) };
    // taskset execs java in place, so the child's pid stays the JVM's.
    const { command, args } = options.core === undefined ? java : pinnedCommand(options.core, java.command, java.args);
    const current = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = current;
    current.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-20_000)));
    current.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-20_000)));
    while (Date.now() - began < timeoutMs) {
      if (current.exitCode !== null || current.signalCode !== null) {
        throw new Error(`kafka broker exited (${current.exitCode ?? current.signalCode}) while starting:\n${output}\n${tail(join(dir, 'logs', 'server.log'))}`);
      }
      if (await brokerAnswers(bootstrap)) return Date.now() - began;
      await sleep(250);
    }
    await stopChild(current, 5000);
    throw new Error(`kafka broker did not answer on ${bootstrap} within ${timeoutMs} ms:\n${output}\n${tail(join(dir, 'logs', 'server.log'))}`);
  };

  const timeoutMs = options.startTimeoutMs ?? 90_000;
  let startMs: number;
  try {
    startMs = await launch(timeoutMs);
  } catch (error) {
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const halt = async (): Promise<void> => {
    if (child) await stopChild(child, 20_000);
  };
  return {
    bootstrap,
    dir,
    formatMs,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    get startMs() {
      return startMs;
    },
    halt,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      startMs = await launch(timeoutMs);
    },
    async stop() {
      await halt();
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ReadMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer;
}

/**
 * Reads `count` messages from `topic` from the beginning with a fresh consumer group, as a
 * downstream would. Waits `settleMs` after the count is reached to catch surplus messages
 * (duplicates); rejects with what arrived when the count is not reached in time.
 */
export async function readTopic(bootstrap: string, topic: string, count: number, options: { timeoutMs?: number; settleMs?: number } = {}): Promise<ReadMessage[]> {
  // Tollgate's exporter writes zstd by default, which kafkajs cannot read without the codec Tollgate registers.
  registerKafkaCodecs();
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'tollgate-test-reader', logLevel: logLevel.NOTHING });
  // Short fetch waits: disconnecting waits for the fetch in flight, 5 s by default.
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 100 });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let reached: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (reached = resolve));
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        messages.push({ topic, partition, offset: message.offset, key: message.key === null ? null : message.key.toString(), value: message.value ?? Buffer.alloc(0) });
        if (messages.length >= count) reached();
        return Promise.resolve();
      },
    });
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([enough, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') throw new Error(`read ${messages.length} of ${count} messages from ${topic} within ${timeoutMs} ms`);
    await sleep(options.settleMs ?? 0);
    return [...messages];
  } finally {
    await consumer.disconnect();
  }
}

/** Produces messages with acks=-1 (the topic is auto-created). */
export async function produceTo(bootstrap: string, topic: string, messages: ReadonlyArray<{ key?: string | null; value: Buffer | null }>): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'tollgate-test-producer', logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key ?? null, value: m.value })) });
  } finally {
    await producer.disconnect();
  }
}

/** Sum of the partitions' high watermarks: how many messages the topic holds (0 for a missing topic). */
export async function topicMessageCount(bootstrap: string, topic: string): Promise<number> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'tollgate-test-admin', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return 0;
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}
