import { governRequest } from '../collector/pipeline/govern.js';
import { SYSTEM_CONTEXT } from '../collector/pipeline/processor.js';
import { EditList, rewrite } from '../collector/otlp/rewriter.js';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import { createAttributePolicyProcessor } from '../collector/processors/attribute-policy/processor.js';
import { createReaggregationProcessor } from '../collector/processors/attribute-policy/reaggregate.js';
import { parseRules } from '../rules/load.js';
import type { Figure } from './report.js';
import { formatInteger, median } from './stats.js';
import type { Case } from './wire-suite.js';
import { measureCase, printWireTable, recordKeyDrops } from './wire-suite.js';
import { metricsRequest } from './workloads.js';

/**
 * `policy`: the attribute-policy processor on the realistic metrics request, in this (pinned)
 * process: 10 key rules and 3 value detectors, enforced. Two cases: scan + policy + rewrite
 * (the figure), and the whole chain the pipeline runs for metrics (its governRequest),
 * which adds the re-aggregation of points that dropping labels made equal.
 */

const SUITE = 'policy';
const TARGET_POINTS_PER_SECOND = 800_000;

/** Ten key rules (exact, glob and regex keys) and three value detectors, as a platform team would write them. */
export const BENCH_RULES = `version: 1
mode: enforce
teams:
  - name: shop
    match:
      service.namespace: shop
  - name: others
attribute_policies:
  - {name: k1, signals: [metrics], keys: [user_id], action: drop}
  - {name: k2, signals: [metrics], keys: [request_id], action: drop}
  - {name: k3, signals: [metrics], keys: [session_id], action: drop}
  - {name: k4, signals: [metrics], keys: ["*.user_id"], action: drop}
  - {name: k5, signals: [metrics], keys: [enduser.id], action: drop}
  - {name: k6, signals: [metrics], keys: [trace_id, span_id], action: drop}
  - {name: k7, signals: [metrics], keys: ["gen_ai.prompt*"], action: drop}
  - {name: k8, signals: [metrics], keys: [{regex: "(?:api|auth)[_.]token"}], action: drop}
  - {name: k9, signals: [metrics], keys: [customer.id], action: hash}
  - {name: k10, signals: [metrics], keys: [url.full], action: truncate, max_length: 256}
  - {name: values, signals: [metrics], values: [email, uuid, ipv4], action: drop}
`;

const HASH_KEY = 'bench-hash-key-0123456789';

export function runPolicySuite(): Figure[] {
  const request = metricsRequest();
  const rules = parseRules(BENCH_RULES, 'bench rules');
  const policy = createAttributePolicyProcessor({ rules: () => rules, hashKey: HASH_KEY });
  const reaggregation = createReaggregationProcessor({ shouldRun: () => policy.pointAttributesChanged });
  const index = new WireIndex();
  const edits = new EditList();
  const points = scanRequest(index, 'metrics', request).itemCount;
  checkPolicyApplied(request, (bytes) => {
    scanRequest(index, 'metrics', bytes);
    edits.clear();
    policy.process(index, edits, SYSTEM_CONTEXT);
    return rewrite(index, edits).bytes;
  });

  const cases: Case[] = [
    {
      name: 'scan + policy + rewrite',
      run: () => {
        scanRequest(index, 'metrics', request);
        edits.clear();
        policy.process(index, edits, SYSTEM_CONTEXT);
        return rewrite(index, edits).bytes.length;
      },
    },
    {
      // The pipeline's own loop: re-aggregation reads the policy's edits in place (one rewrite).
      name: 'scan + policy + re-aggregate + rewrite (the pipeline)',
      run: () => {
        scanRequest(index, 'metrics', request);
        return governRequest(index, edits, [policy, reaggregation], SYSTEM_CONTEXT).items;
      },
    },
  ];
  console.log(`\n[policy] ${rules.attributePolicies.length} policies (10 key rules, 3 value detectors), enforce; request: ${points} data points`);
  const results = cases.map((c) => measureCase(c));
  printWireTable(results, points, request.length, 'policy');
  return results.map((result) => {
    const pointsPerSecond = median(result.requestsPerSecond) * points;
    return {
      suite: SUITE,
      name: `${result.name}, points/s`,
      value: pointsPerSecond,
      display: formatInteger(pointsPerSecond),
      // The target is for scan + policy + rewrite; the whole chain is reported for what it costs.
      target: result === results[0] ? { op: '>=', value: TARGET_POINTS_PER_SECOND, text: `≥ ${formatInteger(TARGET_POINTS_PER_SECOND)}` } : undefined,
    };
  });
}

/** A fast wrong answer is worth nothing: the denied keys must be gone after one pass, and every point kept. */
function checkPolicyApplied(request: Uint8Array, govern: (bytes: Uint8Array) => Uint8Array): void {
  const denied = ['user_id', 'request_id'].map((key) => new TextEncoder().encode(key));
  const before = new WireIndex();
  const pointsBefore = scanRequest(before, 'metrics', request).itemCount;
  const present = recordKeyDrops(before, new EditList(), denied);
  const after = new WireIndex();
  const pointsAfter = scanRequest(after, 'metrics', govern(request)).itemCount;
  const left = recordKeyDrops(after, new EditList(), denied);
  if (present === 0 || left !== 0 || pointsAfter !== pointsBefore) {
    throw new Error(`policy: check failed (denied keys ${present} → ${left}, points ${pointsBefore} → ${pointsAfter})`);
  }
}
