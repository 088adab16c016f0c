// The pipeline's governing loop without its I/O (collector/pipeline/govern.ts), so processor
// tests see exactly what the exporters would.

import { parseRules } from '../../../rules/load.js';
import type { CompiledRules } from '../../../rules/compiled.js';
import { EditList } from '../../../collector/otlp/rewriter.js';
import { governRequest } from '../../../collector/pipeline/govern.js';
import { scanRequest } from '../../../collector/otlp/scanner.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import { WireIndex } from '../../../collector/otlp/wire-index.js';
import type { Processor, ProcessorContext } from '../../../collector/pipeline/processor.js';
import { createAttributePolicyProcessor } from '../../../collector/processors/attribute-policy/processor.js';
import type { AttributePolicyOptions } from '../../../collector/processors/attribute-policy/processor.js';
import { createReaggregationProcessor } from '../../../collector/processors/attribute-policy/reaggregate.js';
import type { ReaggregationObserver } from '../../../collector/processors/attribute-policy/reaggregate.js';

export interface ProcessedRequest {
  /** The request the exporters would get (the very input buffer when nothing was edited). */
  readonly bytes: Uint8Array;
  /** Items left. */
  readonly items: number;
  /** Items refused by policy (partial success) and the messages, as the pipeline joins them. */
  readonly rejected: number;
  readonly message: string | undefined;
}

/** Unless a test passes its own, processors see a fixed clock and fixed dice: runs stay reproducible. */
const CONTEXT: ProcessorContext = { now: () => 0, random: () => 0 };

/**
 * `context` defaults to the fixed clock of 0; processors that read the clock (the cardinality
 * budget's last-seen times) get one from the test.
 */
export function runProcessors(processors: readonly Processor[], signal: Signal, body: Uint8Array, context: ProcessorContext = CONTEXT): ProcessedRequest {
  const index = new WireIndex();
  scanRequest(index, signal, body);
  const governed = governRequest(index, new EditList(), processors.filter((p) => p.signals.includes(signal)), context);
  return { bytes: governed.body, items: governed.items, rejected: governed.rejected, message: governed.message };
}

export interface GovernanceChainOptions extends Omit<AttributePolicyOptions, 'rules'> {
  readonly reaggregationObserver?: ReaggregationObserver;
  readonly reaggregationSeed?: number;
}

/** The attribute policy followed by re-aggregation, wired as collector/governance.ts wires them. */
export function governanceChain(rules: CompiledRules, options: GovernanceChainOptions): Processor[] {
  const attributePolicy = createAttributePolicyProcessor({ ...options, rules: () => rules });
  const reaggregation = createReaggregationProcessor({
    shouldRun: () => attributePolicy.pointAttributesChanged,
    observer: options.reaggregationObserver,
    seed: options.reaggregationSeed,
  });
  return [attributePolicy, reaggregation];
}

/** Rules from YAML text (throws the rules engine's ConfigError, naming the problem, if invalid). */
export function rulesFrom(yaml: string, source = 'test rules'): CompiledRules {
  return parseRules(yaml, source);
}
