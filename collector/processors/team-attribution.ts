import type { CompiledRules } from '../../rules/compiled.js';
import { NODE, VALUE } from '../otlp/wire-index.js';
import type { WireIndex } from '../otlp/wire-index.js';

/**
 * Which team each resource of a request belongs to. Team matchers read a handful of resource
 * attributes, so a resource's attributes are decoded only when a matcher asks for them, once
 * per resource per request (never per item).
 */

/** A string resource attribute by key, read from the index; undefined when absent or not a string. */
export function resourceLookup(ix: WireIndex, resourceNode: number): (key: string) => string | undefined {
  return (key: string) => {
    if (resourceNode < 0) return undefined;
    for (let a = ix.nodeFirstAttr[resourceNode]; a >= 0; a = ix.attrNext[a]) {
      if (ix.attrValueType[a] === VALUE.STRING && ix.attrKey(a) === key) return ix.text(ix.attrValueStart[a], ix.attrValueEnd[a]);
    }
    return undefined;
  };
}

/**
 * Writes the team index of every resource group row into `out[g]` (scope group rows get -1)
 * and returns `out`, grown when the request has more groups than it holds.
 */
export function teamsOfResourceGroups(ix: WireIndex, rules: CompiledRules, out: Int32Array): Int32Array {
  const teams: Int32Array = out.length >= ix.groupCount ? out : new Int32Array(ix.groupCount * 2);
  for (let g = 0; g < ix.groupCount; g++) {
    teams[g] = ix.nodeKind[ix.groupNode[g]] === NODE.RESOURCE_GROUP ? rules.teamOf(resourceLookup(ix, ix.groupInner[g])) : -1;
  }
  return teams;
}
