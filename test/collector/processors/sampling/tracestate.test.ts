import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConsistentSampler } from '../../../../collector/processors/sampling/decision.js';
import { decodeThreshold, MutableValue56, thresholdFromProbability } from '../../../../collector/processors/sampling/threshold.js';
import { readRandomnessValue } from '../../../../collector/processors/sampling/randomness.js';
import {
  getMember,
  isValidTraceStateKey,
  isValidTraceStateValue,
  OT_VALUE_MAX_LENGTH,
  ParsedTraceState,
  parseOtValue,
  parseTraceState,
  setThreshold,
  TRACESTATE_MAX_MEMBERS,
} from '../../../../collector/processors/sampling/tracestate.js';

const HALF = thresholdFromProbability(0.5); // th:8
const QUARTER = thresholdFromProbability(0.25); // th:c
const TENTH = thresholdFromProbability(0.1); // th:e666
/** A trace id whose last 56 bits are all ones: kept at every probability. */
const KEEP_ID = Uint8Array.from([...new Array<number>(9).fill(0), ...new Array<number>(7).fill(0xff)]);

test('parse: members in order, spaces and empty members skipped, vendor values untouched', () => {
  const members = parseTraceState(' congo=t61rcWkgMzE ,,\trojo=00f067aa0ba902b7 , ot=th:8;rv:0123456789abcd, acme@tenant=a b ');
  assert.deepEqual(members, [
    { key: 'congo', value: 't61rcWkgMzE' },
    { key: 'rojo', value: '00f067aa0ba902b7' },
    { key: 'ot', value: 'th:8;rv:0123456789abcd' },
    { key: 'acme@tenant', value: 'a b' },
  ]);
  assert.deepEqual(parseTraceState(''), []);
  assert.deepEqual(parseTraceState(undefined), []);
});

test('write th: the ot member moves first, other vendors keep their entries and order', () => {
  const header = 'rojo=00f067aa0ba902b7,ot=rv:0123456789abcd;xx:yy,congo=t61rcWkgMzE';
  assert.equal(setThreshold(header, QUARTER.th), 'ot=th:c;rv:0123456789abcd;xx:yy,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  // Without an ot member one is created, first.
  assert.equal(setThreshold('rojo=1,congo=2', '8'), 'ot=th:8,rojo=1,congo=2');
  assert.equal(setThreshold(undefined, 'e666'), 'ot=th:e666');
});

test('write th: replaced in place among unknown sub-keys, rv and the unknown ones preserved in order', () => {
  const header = 'a=1,ot=zz:1;th:8;rv:fedcba98765432;k1:13;abc:X-y_z.1';
  assert.equal(setThreshold(header, 'c'), 'ot=zz:1;th:c;rv:fedcba98765432;k1:13;abc:X-y_z.1,a=1');
  assert.deepEqual(parseOtValue('zz:1;th:8;rv:fedcba98765432;k1:13').map((kv) => kv.key), ['zz', 'th', 'rv', 'k1']);
});

test('decision never lowers an incoming higher th, and never changes rv', () => {
  const sampler = new ConsistentSampler();
  // Incoming th:e666 (1 in 10) is higher than ours (1 in 2): left exactly as it came.
  const incoming = 'vendor=x,ot=th:e666;rv:ffffffffffffff';
  const d = sampler.decide(incoming, KEEP_ID, 0, HALF);
  assert.equal(d.keep, true);
  assert.equal(d.traceState, incoming);
  assert.equal(d.written, undefined);
  assert.equal(d.threshold?.th, 'e666');
  // Incoming th:8 is lower than ours (1 in 10): raised to ours, rv untouched.
  const raised = sampler.decide('ot=th:8;rv:ffffffffffffff', KEEP_ID, 0, TENTH);
  assert.equal(raised.traceState, 'ot=th:e666;rv:ffffffffffffff');
  assert.equal(raised.written, TENTH);

  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 28 - 1 }),
      fc.integer({ min: 0, max: 2 ** 28 - 1 }),
      fc.stringMatching(/^[0-9a-f]{14}$/),
      fc.double({ min: 2 ** -40, max: 1, noNaN: true }),
      (hi, lo, rv, p) => {
        const th = (hi * 2 ** 28 + lo).toString(16).padStart(14, '0').replace(/0+$/, '');
        const header = `ot=th:${th};rv:${rv},b=2`;
        const d = new ConsistentSampler().decide(header, KEEP_ID, 0, thresholdFromProbability(p));
        const out = new ParsedTraceState(d.traceState);
        const incomingT = BigInt(`0x${th.padEnd(14, '0')}`);
        if (d.keep) {
          // th after ≥ th before; rv byte for byte the same.
          assert.ok(out.threshold!.toBigInt() >= incomingT, `${header} → ${d.traceState}`);
          assert.equal(out.otSubKeys.find((kv) => kv.key === 'rv')?.value, rv);
          assert.equal(out.hasRandomness, true);
        } else {
          assert.equal(d.traceState, header);
        }
      },
    ),
    { seed: 3, numRuns: 1000 },
  );
});

test('malformed input never throws; the rewritten header is a valid tracestate with ot first', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: fc.constantFrom('a', 'o', 't', 'h', 'r', 'v', '=', ',', ';', ':', ' ', '8', 'f', '@', '\t', 'Z'), maxLength: 120 }),
    fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 40 })), { maxLength: 40 }).map((kvs) => kvs.map(([k, v]) => `${k}=${v}`).join(',')),
  );
  fc.assert(
    fc.property(text, fc.constantFrom(HALF, QUARTER, TENTH), (header, ours) => {
      const sampler = new ConsistentSampler();
      const kept = sampler.forceKeep(header);
      const decided = sampler.decide(header, KEEP_ID, 0, ours);
      for (const d of [kept, decided]) {
        if (d.written === undefined) {
          assert.equal(d.traceState, header); // untouched, byte for byte
          continue;
        }
        const members = d.traceState.split(',');
        assert.ok(members.length <= TRACESTATE_MAX_MEMBERS);
        assert.ok(members[0].startsWith('ot=th:'), d.traceState);
        assert.ok(members[0].length - 3 <= OT_VALUE_MAX_LENGTH);
        const keys = new Set<string>();
        for (const m of members) {
          const eq = m.indexOf('=');
          assert.ok(eq > 0 && isValidTraceStateKey(m, 0, eq) && isValidTraceStateValue(m, eq + 1, m.length), m);
          assert.ok(!keys.has(m.slice(0, eq)), 'keys are unique');
          keys.add(m.slice(0, eq));
        }
        // Every valid member of the input survives (up to the member limit).
        const before = parseTraceState(header).filter((kv) => kv.key !== 'ot');
        const after = parseTraceState(d.traceState).slice(1);
        assert.deepEqual(after, before.slice(0, TRACESTATE_MAX_MEMBERS - 1));
      }
    }),
    { seed: 7, numRuns: 1500 },
  );
});

test('malformed ot values count as absent; valid parts and other entries are preserved', () => {
  const sampler = new ConsistentSampler();
  // Invalid th (not hex) and invalid rv (too short): th absent, randomness from the trace id.
  const bad = sampler.parse('ot=th:zz;rv:abc;k:1,v=1');
  assert.equal(bad.threshold, undefined);
  assert.equal(bad.hasRandomness, false);
  assert.equal(bad.withThreshold(HALF), 'ot=th:8;rv:abc;k:1,v=1');
  // An ot value that is no sub-key list at all is replaced by ours; other members stay.
  assert.equal(sampler.parse('x=1,ot=garbage,y=2').withThreshold(HALF), 'ot=th:8,x=1,y=2');
  // Malformed members of the list are dropped on rewrite, the rest kept; a repeated key keeps its first value.
  assert.equal(setThreshold('Bad=1,ok=2,=3,noequals,ok=4,ot=th:c,ot=th:f', '8'), 'ot=th:8,ok=2');
  // Upper-case rv hex is read, and a 15-digit rv is invalid.
  assert.equal(sampler.parse('ot=rv:FFFFFFFFFFFFFF').hasRandomness, true);
  assert.equal(sampler.parse('ot=rv:fffffffffffffff').hasRandomness, false);
  // The first ot member wins when there are two.
  assert.equal(sampler.parse('ot=th:c,ot=th:8').threshold?.th, 'c');
});

test('limits: at most 32 members (the right-most dropped) and an ot value of at most 256 characters', () => {
  const many = Array.from({ length: 40 }, (_, i) => `v${i}=${i}`).join(',');
  const out = setThreshold(many, '8').split(',');
  assert.equal(out.length, 32);
  assert.equal(out[0], 'ot=th:8');
  assert.equal(out[1], 'v0=0');
  assert.equal(out[31], 'v30=30');

  // Unknown sub-keys filling 252 of the 256 characters: adding th:fd70a (9 more) must push out
  // unknown ones from the right, here exactly the last; rv stays.
  const filler = Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}:xxxxx`).join(';') + ';z:ab';
  const header = `ot=rv:0123456789abcd;${filler}`;
  assert.equal(header.length - 3, 252);
  const rewritten = setThreshold(header, 'fd70a');
  const ot = rewritten.slice(3);
  assert.equal(ot.length, 256);
  const keys = parseOtValue(ot).map((kv) => kv.key);
  assert.deepEqual(keys, ['th', 'rv', ...Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}`)]);
});

test('the scanning parse used per span agrees with the full parse on th and rv', () => {
  const subKey = fc.oneof(
    fc.constantFrom('th:8', 'th:fd70a', 'th:', 'th:zz', 'th:0', 'rv:0123456789abcd', 'rv:abc', 'rv:FFFFFFFFFFFFFF', 'x:1', 'th:c', 'rv:ffffffffffffff', 'Th:8', 'rv:01234567 9abcd'),
    fc.string({ unit: fc.constantFrom('t', 'h', 'r', 'v', ':', ';', '8', 'f', 'a', ' ', '='), maxLength: 12 }),
  );
  const member = fc.oneof(
    fc.array(subKey, { maxLength: 5 }).map((subs) => `ot=${subs.join(';')}`),
    fc.constantFrom('a=1', ' b=2 ', 'ot', 'ot=', '=x', 'OT=th:8', 'x@y=z', ''),
  );
  fc.assert(
    fc.property(fc.array(member, { maxLength: 5 }), (members) => {
      const header = members.join(',');
      const scanned = new ParsedTraceState(header);
      const sub = parseOtValue(getMember(parseTraceState(header), 'ot'));
      const th = getMember(sub, 'th');
      assert.equal(scanned.threshold?.th, th === undefined ? undefined : decodeThreshold(th)?.th, header);
      const rv = getMember(sub, 'rv');
      const r = new MutableValue56();
      const valid = rv !== undefined && readRandomnessValue(rv, r);
      assert.equal(scanned.hasRandomness, valid, header);
      if (valid) assert.deepEqual([scanned.randomnessHi, scanned.randomnessLo], [r.hi, r.lo]);
    }),
    { seed: 13, numRuns: 3000 },
  );
});
