// File exporter: one line of OTLP/JSON per request in `${directory}/${signal}.jsonl`, the
// format of the Collector's file exporter (each line one Export*ServiceRequest), so files can
// be replayed or read with jq. Writes to a file are serialized so lines never interleave, and a
// request is `accepted` only once its line is written. Files rotate by size.
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExportOutcome, ExportRequest, Exporter } from '../pipeline/contracts.js';
import type { Signal } from '../otlp/signal.js';
import { SIGNALS } from '../otlp/signal.js';
import { toOtlpJson } from '../otlp/otlp-json.js';
import type { ExporterObserver } from './observer.js';
import { NOOP_EXPORTER_OBSERVER } from './observer.js';

const NEWLINE = Buffer.from('\n');

export interface FileExporterOptions {
  /** Exporter name for metrics and logs. Default `file`. */
  readonly name?: string;
  /** Created if missing. */
  readonly directory: string;
  /** Rotate before a line would take the active file past this size. Default 100 MiB. */
  readonly maxFileBytes?: number;
  /** Rotated files kept per signal (the active file not counted); older ones are deleted. Default 5. */
  readonly maxFiles?: number;
  /** Request bytes waiting to be written before export() answers busy. Default 16 MiB. */
  readonly maxPendingBytes?: number;
}

export interface FileExporterDeps {
  readonly observer?: ExporterObserver;
  /** Clock for rotated file names. */
  readonly now?: () => number;
}

export const FILE_EXPORTER_DEFAULTS = Object.freeze({
  name: 'file',
  maxFileBytes: 100 * 1024 * 1024,
  maxFiles: 5,
  maxPendingBytes: 16 * 1024 * 1024,
});

/** `metrics.jsonl` */
export function activeFileName(signal: Signal): string {
  return `${signal}.jsonl`;
}

/** `metrics-2024-05-01T12-30-00.123Z.jsonl`: UTC, no colons (portable), sorts by time as text. */
export function rotatedFileName(signal: Signal, epochMs: number): string {
  return `${signal}-${new Date(epochMs).toISOString().replace(/:/g, '-')}.jsonl`;
}

/** The time encoded in a rotated file's name, or undefined for any other name. */
export function rotatedFileTime(signal: Signal, name: string): number | undefined {
  if (!name.startsWith(`${signal}-`)) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2}T)(\d{2})-(\d{2})-(\d{2}\.\d{3}Z)\.jsonl$/.exec(name.slice(signal.length + 1));
  if (match === null) return undefined;
  const time = Date.parse(`${match[1]}${match[2]}:${match[3]}:${match[4]}`);
  return Number.isNaN(time) ? undefined : time;
}

/** Rotated files of `signal` among `names`, oldest first. */
export function rotatedFilesOf(signal: Signal, names: readonly string[]): string[] {
  return names.filter((name) => rotatedFileTime(signal, name) !== undefined).sort();
}

/** One signal's active file; `tail` is the last queued write, so writes run one after another. */
interface SignalFile {
  readonly signal: Signal;
  readonly path: string;
  handle: FileHandle | undefined;
  size: number;
  /** The file does not end with a newline (a write failed half-way, or a crash did). */
  endsMidLine: boolean;
  /** Time in the newest rotated name; undefined until the directory was looked at. */
  lastRotatedAt: number | undefined;
  tail: Promise<void>;
}

export function createFileExporter(options: FileExporterOptions, deps: FileExporterDeps = {}): Exporter {
  const name = options.name ?? FILE_EXPORTER_DEFAULTS.name;
  const { directory } = options;
  const maxFileBytes = options.maxFileBytes ?? FILE_EXPORTER_DEFAULTS.maxFileBytes;
  const maxFiles = options.maxFiles ?? FILE_EXPORTER_DEFAULTS.maxFiles;
  const maxPendingBytes = options.maxPendingBytes ?? FILE_EXPORTER_DEFAULTS.maxPendingBytes;
  const observer = deps.observer ?? NOOP_EXPORTER_OBSERVER;
  const now = deps.now ?? Date.now;

  const files = new Map<Signal, SignalFile>(
    SIGNALS.map((signal) => [
      signal,
      { signal, path: join(directory, activeFileName(signal)), handle: undefined, size: 0, endsMidLine: false, lastRotatedAt: undefined, tail: Promise.resolve() },
    ]),
  );
  let stopping = false;
  let abandoned = false;
  let pendingBytes = 0;
  let pendingItems = 0;

  function answer(request: ExportRequest, outcome: ExportOutcome): ExportOutcome {
    observer.onOutcome(request.signal, request.items, outcome);
    return outcome;
  }

  async function ensureOpen(file: SignalFile): Promise<FileHandle> {
    if (file.handle !== undefined) return file.handle;
    await mkdir(directory, { recursive: true });
    const handle = await open(file.path, 'a+');
    try {
      const { size } = await handle.stat();
      file.size = size;
      file.endsMidLine = size > 0 && !(await endsWithNewline(handle, size));
    } catch (error) {
      await handle.close();
      throw error;
    }
    file.handle = handle;
    return handle;
  }

  async function closeFile(file: SignalFile): Promise<void> {
    const handle = file.handle;
    file.handle = undefined;
    if (handle !== undefined) await handle.close().catch(() => undefined);
  }

  async function rotate(file: SignalFile): Promise<void> {
    await closeFile(file);
    if (file.lastRotatedAt === undefined) {
      const times = (await readdir(directory)).map((name) => rotatedFileTime(file.signal, name) ?? -Infinity);
      file.lastRotatedAt = Math.max(-Infinity, ...times);
    }
    // Names must grow strictly, even within one millisecond or when the clock steps back:
    // pruning deletes by name order, and a reused older name would get the newest data deleted.
    let stamp = Math.max(now(), file.lastRotatedAt + 1);
    while (await exists(join(directory, rotatedFileName(file.signal, stamp)))) stamp += 1;
    await rename(file.path, join(directory, rotatedFileName(file.signal, stamp)));
    file.lastRotatedAt = stamp;
    const rotated = rotatedFilesOf(file.signal, await readdir(directory));
    const excess = rotated.slice(0, Math.max(0, rotated.length - maxFiles));
    await Promise.all(excess.map((old) => unlink(join(directory, old)).catch(() => undefined)));
  }

  async function appendLine(file: SignalFile, line: string): Promise<void> {
    let handle = await ensureOpen(file);
    const lineBytes = Buffer.from(`${line}\n`, 'utf8');
    if (file.size > 0 && file.size + lineBytes.length > maxFileBytes) {
      await rotate(file);
      handle = await ensureOpen(file);
    }
    // After a torn write, end the broken line first so every later line still parses.
    const bytes = file.endsMidLine ? Buffer.concat([NEWLINE, lineBytes]) : lineBytes;
    try {
      let written = 0;
      while (written < bytes.length) {
        const result = await handle.write(bytes, written, bytes.length - written);
        written += result.bytesWritten;
      }
    } catch (error) {
      // Part of the line may be on disk; reopening re-reads the size and the last byte.
      await closeFile(file);
      throw error;
    }
    file.size += bytes.length;
    file.endsMidLine = false;
  }

  async function write(request: ExportRequest, file: SignalFile): Promise<ExportOutcome> {
    if (abandoned) return { kind: 'failed', retryable: true, reason: 'exporter shut down before the write' };
    let line: string;
    try {
      line = toOtlpJson(request.signal, request.body);
    } catch (error) {
      // The receiver validated these bytes; a request we cannot render will not improve.
      return { kind: 'failed', retryable: false, reason: `cannot render OTLP/JSON: ${errorMessage(error)}` };
    }
    try {
      await appendLine(file, line);
      return { kind: 'accepted' };
    } catch (error) {
      return { kind: 'failed', retryable: true, reason: `write to ${file.path} failed: ${errorMessage(error)}` };
    }
  }

  function allWritten(): Promise<unknown> {
    return Promise.all([...files.values()].map((file) => file.tail));
  }

  return {
    name,

    async start(): Promise<void> {
      await mkdir(directory, { recursive: true });
    },

    export(request: ExportRequest): Promise<ExportOutcome> {
      if (stopping) {
        return Promise.resolve(answer(request, { kind: 'failed', retryable: true, reason: 'exporter is shutting down' }));
      }
      const file = files.get(request.signal);
      if (file === undefined) {
        return Promise.resolve(answer(request, { kind: 'failed', retryable: false, reason: `unknown signal ${String(request.signal)}` }));
      }
      const size = request.body.length;
      // A request larger than the whole budget is still taken when nothing waits, so it can make progress.
      if (pendingBytes > 0 && pendingBytes + size > maxPendingBytes) {
        return Promise.resolve(answer(request, { kind: 'busy', reason: `write queue full (${pendingBytes}/${maxPendingBytes} bytes pending)` }));
      }
      pendingBytes += size;
      pendingItems += request.items;
      const done = file.tail.then(() => write(request, file));
      file.tail = done.then(() => undefined);
      return done.then((outcome) => {
        pendingBytes -= size;
        pendingItems -= request.items;
        return answer(request, outcome);
      });
    },

    queuedItems(): number {
      return pendingItems;
    },

    async shutdown(deadline: number): Promise<void> {
      stopping = true;
      let timer: NodeJS.Timeout | undefined;
      const deadlinePassed = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      await Promise.race([allWritten(), deadlinePassed]);
      clearTimeout(timer);
      // A write in progress cannot be cancelled, but queued ones can: they fail without writing.
      abandoned = true;
      await allWritten();
      await Promise.all([...files.values()].map((file) => closeFile(file)));
    },
  };
}

async function endsWithNewline(handle: FileHandle, size: number): Promise<boolean> {
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
