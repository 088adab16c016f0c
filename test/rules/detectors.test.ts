import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import type { DetectorName } from '../../rules/compiled.js';
import { createRegexDetector, DETECTORS } from '../../rules/detectors.js';

const encoder = new TextEncoder();

function detects(name: DetectorName, value: string): boolean {
  const bytes = encoder.encode(value);
  return DETECTORS[name].test(bytes, 0, bytes.length);
}

/** The value placed inside a larger buffer between `before` and `after`, tested on its range only. */
function detectsWithin(name: DetectorName, before: string, value: string, after: string): boolean {
  const prefix = encoder.encode(before);
  const body = encoder.encode(value);
  const bytes = encoder.encode(before + value + after);
  return DETECTORS[name].test(bytes, prefix.length, prefix.length + body.length);
}

function assertCases(name: DetectorName, positives: readonly string[], negatives: readonly string[]): void {
  for (const value of positives) assert.equal(detects(name, value), true, `${name} should detect ${JSON.stringify(value)}`);
  for (const value of negatives) assert.equal(detects(name, value), false, `${name} should not detect ${JSON.stringify(value)}`);
}

/** `digits` followed by the Luhn check digit that makes it valid. */
function withLuhnCheckDigit(digits: string): string {
  let sum = 0;
  for (let i = digits.length - 1, doubled = true; i >= 0; i--, doubled = !doubled) {
    const d = Number(digits[i]);
    sum += doubled ? (d > 4 ? d * 2 - 9 : d * 2) : d;
  }
  return digits + String((10 - (sum % 10)) % 10);
}

/** A Luhn-failing variant of a valid number (last digit bumped). */
function breakLuhn(valid: string): string {
  return valid.slice(0, -1) + String((Number(valid.at(-1)) + 1) % 10);
}

const TYPICAL_VALUES = [
  'GET',
  'POST',
  '200',
  '404',
  '/api/v1/orders/{id}',
  'checkout.shop.svc.cluster.local',
  'checkout',
  'production',
  'eu-west-1',
  'true',
  '',
  'http',
  'HTTP/1.1',
  'grpc',
  'io.opentelemetry.contrib',
  'SELECT * FROM orders WHERE id = ?',
  '2024-05-01T12:30:45Z',
  '12:30:45',
  '1.27.3',
  'v1.2.3-rc.1',
];

const ALL_DETECTORS = Object.keys(DETECTORS) as DetectorName[];

// -------------------------------------------------------------------------------------------
// Registry

test('DETECTORS has every detector name, each named after its key, and is frozen', () => {
  assert.deepEqual([...ALL_DETECTORS].sort(), ['credit_card', 'email', 'hex', 'ipv4', 'ipv6', 'jwt', 'uuid']);
  for (const name of ALL_DETECTORS) assert.equal(DETECTORS[name].name, name);
  assert.ok(Object.isFrozen(DETECTORS));
  assert.ok(Object.isFrozen(DETECTORS.uuid));
});

test('typical attribute values are detected by no built-in detector', () => {
  for (const name of ALL_DETECTORS) {
    for (const value of TYPICAL_VALUES) assert.equal(detects(name, value), false, `${name} on ${JSON.stringify(value)}`);
  }
});

// -------------------------------------------------------------------------------------------
// uuid

test('uuid: whole-value 8-4-4-4-12 hex, either case', () => {
  assertCases(
    'uuid',
    [
      '123e4567-e89b-12d3-a456-426614174000',
      'F47AC10B-58CC-4372-A567-0E02B2C3D479',
      'f47ac10b-58CC-4372-a567-0e02b2c3d479',
      '00000000-0000-0000-0000-000000000000',
      '01890a5d-ac96-774b-bcce-b302099a8057', // v7
    ],
    [
      '123e4567-e89b-12d3-a456-42661417400', // 35 bytes
      '123e4567-e89b-12d3-a456-4266141740000', // 37 bytes
      '123e4567-e89b-12d3-a456-42661417400g', // non-hex
      '123e4567-e89b-12d3-a456_426614174000',
      '123e4567e-89b-12d3-a456-426614174000', // dash moved
      '123e4567e89b12d3a456426614174000', // no dashes: that is `hex`
      '{123e4567-e89b-12d3-a456-426614174000}',
      ' 123e4567-e89b-12d3-a456-42661417400',
      'urn:uuid:123e4567-e89b-12d3-a456-426614174000',
      'order 123e4567-e89b-12d3-a456-426614174000', // whole value only
      '------------------------------------',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// email

test('email: the value contains local@domain.tld', () => {
  assertCases(
    'email',
    [
      'alice@example.com',
      'first.last+tag@sub.example.co.uk',
      'user_name%relay@mail-server.io',
      'contact: bob@example.org, thanks',
      'Mail me at a@b.co.', // sentence dot is not part of the domain
      'from=<carol@example.net>',
      'user@@bob@example.com', // a later '@' still counts
      'jöhn@example.com', // only the byte before '@' is inspected
      'git@github.com:org/repo.git', // syntactic
    ],
    [
      'user@',
      '@handle',
      'follow @handle on x.com',
      'a@b', // no dot
      'a@b.c', // one-letter TLD
      'foo@bar.c',
      'user@localhost',
      'pkg@1.2.3', // numeric TLD
      '@scope/pkg@1.0.0',
      'x.@y.com', // local part ends with a dot
      'name @example.com', // space before '@'
      'user@ example.com',
      'user@-bad.com',
      'user@bad-.com',
      'user@example..com',
      'user@example.com1', // TLD must be letters
      `user@${'a'.repeat(64)}.com`, // label longer than 63
      'ü@example.com', // non-ASCII byte before '@'
      '@@@@@@@@',
      'a@b.c@d.e',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// ipv4

test('ipv4: a whole-value dotted quad with an optional :port', () => {
  assertCases(
    'ipv4',
    [
      '192.168.1.1',
      '10.0.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '1.2.3.4', // also a version string: detectors are syntactic
      '8.8.8.8:53',
      '127.0.0.1:8080',
      '10.0.0.1:0',
      '255.255.255.255:65535',
    ],
    [
      '999.1.1.1',
      '256.1.1.1',
      '1.2.3.256',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4', // leading zeros
      '1.2.3.04',
      '1.2.3.4:',
      '1.2.3.4:65536',
      '1.2.3.4:080',
      '1.2.3.4:123456',
      '1.2.3.4/24',
      ' 1.2.3.4',
      '1.2.3.4 ',
      'v1.2.3.4',
      '1..2.3',
      '1.2.3.a',
      '1.2.3.4a',
      '1234.1.1.1',
      '::ffff:1.2.3.4', // that is ipv6
      '2024-05-01T12:30:45Z',
      '12:30:45',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// ipv6

test('ipv6: full and compressed forms, IPv4 tails, zone ids, brackets with a port', () => {
  assertCases(
    'ipv6',
    [
      '::1',
      '::',
      '1::',
      '2001:db8::1',
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
      '2001:DB8:0:0:8:800:200C:417A',
      'FE80::1',
      'fe80::1%eth0',
      'fe80::1%25',
      '::ffff:192.0.2.1',
      '0:0:0:0:0:ffff:192.0.2.1',
      '64:ff9b::198.51.100.7',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6::8',
      '[::1]',
      '[::1]:8080',
      '[2001:db8::1]:443',
      '[fe80::1%25en0]:443',
      'aa:bb:cc:dd:ee:ff:00:11', // 8 groups: syntactically an address
    ],
    [
      '12:30:45', // a time
      '12:30',
      'aa:bb:cc:dd:ee:ff', // a MAC address
      'AA-BB-CC-DD-EE-FF',
      'a:b',
      'key:value',
      'std::string',
      '1:2:3:4:5:6:7', // 7 groups and no '::'
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
      '1::2::3',
      ':1',
      ':::',
      '1:',
      '::1:',
      '12345::1',
      'gg::1',
      'fe80::1%',
      'fe80::1%eth0 ',
      '[::1',
      '::1]',
      '[::1]:',
      '[::1]:99999',
      '::1:8080 ',
      ' ::1',
      '::ffff:999.0.2.1',
      '::ffff:1.2.3',
      '::01.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      '1.2.3.4',
      'http://[::1]:80',
      '2024-05-01T12:30:45Z',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// hex

test('hex: a whole value of 16+ hex digits with a digit and a letter, optional 0x', () => {
  assertCases(
    'hex',
    [
      '4bf92f3577b34da6a3ce929d0e0e4736', // trace id
      '00f067aa0ba902b7', // span id
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', // sha256
      'DEADBEEF00112233',
      'AbCdEf0123456789',
      '0xdeadbeef00112233',
      '0Xdeadbeef00112233',
      '123e4567e89b12d3a456426614174000', // a dashless uuid
    ],
    [
      '00f067aa0ba902b', // 15 hex digits
      'deadbeef',
      '1234567890123456', // an order number: digits only
      '12345678901234567890',
      'deadbeefcafebabe', // letters only
      'deadbeefcafebabefacefeed',
      '0x00f067aa0ba902b', // 15 digits after the prefix
      '0x1234567890123456',
      '0x',
      '00f067aa0ba902bg',
      '4bf92f35 77b34da6a3ce929d0e0e4736',
      ' 4bf92f3577b34da6a3ce929d0e0e4736',
      '123e4567-e89b-12d3-a456-426614174000',
      'x4bf92f3577b34da6a3ce929d0e0e4736',
      '0x0x4bf92f3577b34da6',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// credit_card

test('credit_card: Luhn-valid card numbers, contiguous or grouped, anywhere in the value', () => {
  assertCases(
    'credit_card',
    [
      '4111111111111111',
      '4111 1111 1111 1111',
      '5500-0000-0000-0004',
      '378282246310005', // Amex, 15 digits
      '3782 822463 10005', // Amex grouping 4-6-5
      '30569309025904', // Diners, 14 digits
      '6011111111111117', // Discover
      '3530111333300000', // JCB
      '2223003122003222', // Mastercard 2-series
      '4222222222222', // 13 digits
      '4111111111111111110', // 19 digits, Luhn-valid
      'card=4111111111111111;',
      'paid with 5555 5555 5555 4444 yesterday',
      'Card: 4111-1111-1111-1111.',
      '4111 1111 1111 1111 12/25', // followed by an expiry date
      'qty 2 4111 1111 1111 1111', // preceded by another number
      'card_4111111111111111',
      '-4111111111111111',
    ],
    [
      breakLuhn('4111111111111111'),
      breakLuhn('5500000000000004'),
      '4111 1111 1111 1112',
      '41111111111111111111', // 20 digits
      withLuhnCheckDigit('4111111111111111111'), // a Luhn-valid 20-digit run
      withLuhnCheckDigit('41111111111111111111111'),
      'ord4111111111111111x', // inside an identifier
      'x4111111111111111',
      '4111111111111111x',
      '0.4111111111111111', // fraction digits of a float
      '4111111111111111.5',
      '+1 415 555 2671', // phone number
      '+44 7911 123456',
      '411111111111', // 12 digits
      withLuhnCheckDigit('171456664512'), // epoch milliseconds
      withLuhnCheckDigit('171456664512345678'), // epoch nanoseconds
      withLuhnCheckDigit('2024050112304512'), // compact date-time
      withLuhnCheckDigit('123456781234567'), // order number without a network prefix
      withLuhnCheckDigit('900000000000000'),
      '4111-1111 1111-1111', // mixed separators
      '4111  1111  1111  1111', // double spaces
      '41111 1111 1111 1111', // first group is not 4 digits
      '4111 11 1111 1111 1111', // a 2-digit group
      '4111 1111111 1111 111', // a 7-digit group
      '2024-05-01T12:30:45Z',
      '12345678-1234-1234-1234-123456789012',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// jwt

const SAMPLE_JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

test('jwt: a whole-value compact JWS, optionally after a Bearer scheme', () => {
  assertCases(
    'jwt',
    [
      SAMPLE_JWT,
      `Bearer ${SAMPLE_JWT}`,
      `bearer ${SAMPLE_JWT}`,
      `BEARER  ${SAMPLE_JWT}`,
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.', // unsecured: empty signature
      'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UifQ.a-b_c',
    ],
    [
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0', // two segments
      'eyJ.eyJ',
      'eyJa.eyJb.c', // shorter than 20 bytes
      'Bearer abc',
      'Bearer',
      'Bearer ',
      `Bearer${SAMPLE_JWT}`,
      `Bearer:${SAMPLE_JWT}`,
      `Token ${SAMPLE_JWT}`,
      `Basic dXNlcjpwYXNzd29yZA==`,
      `${SAMPLE_JWT} `,
      ` ${SAMPLE_JWT}`,
      `${SAMPLE_JWT}.x`, // four segments
      `${SAMPLE_JWT}=`, // padding
      'eyJhbGciOiJIUzI1NiJ9.abcdefghijklmnop.sig', // payload is not a JSON object
      'abcdefghijklmnopqrst.eyJzdWIiOiIxIn0.sig',
      'eyJhbGciOiJIUzI1NiJ9..sig',
      'eyJhbGci OiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
      'xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
    ],
  );
});

// -------------------------------------------------------------------------------------------
// Ranges: bytes outside [start, end) never influence the result.

test('detectors look only at [start, end) of a larger buffer', () => {
  const cases: [DetectorName, string, string, string, boolean][] = [
    ['uuid', 'x', '123e4567-e89b-12d3-a456-426614174000', 'f', true],
    ['uuid', '123e4567-e89b-12d3-a456-', '426614174000', '', false],
    ['ipv4', '999', '1.2.3.4', '5', true],
    ['ipv4', '', '1.2.3.4', ':80', true],
    ['ipv4', '1.2.', '3.4', '.5.6', false],
    ['ipv6', '[', '::1', ']:80', true],
    ['ipv6', '', '1:2:3:4', ':5:6:7:8', false],
    ['hex', '0x', '00f067aa0ba902b7', 'ff', true],
    ['hex', 'abc', 'deadbeefcafe', '0123', false],
    ['email', 'x', 'a@b.co', 'm', true],
    ['email', 'alice', '@example.com', '', false],
    ['email', '', 'alice@example', '.com', false],
    ['credit_card', '9', '4111111111111111', '9', true],
    ['credit_card', '0.', '4111111111111111', '', true],
    ['credit_card', '', '4111111111111111', '.5', true],
    ['credit_card', 'ord', '4111111111111111', 'x', true],
    ['credit_card', '4111 1111 ', '1111 1111', '', false],
    ['jwt', 'Bearer ', SAMPLE_JWT, '', true],
    ['jwt', 'x', SAMPLE_JWT, '.extra', true],
    ['jwt', '', SAMPLE_JWT.slice(0, SAMPLE_JWT.lastIndexOf('.')), SAMPLE_JWT.slice(SAMPLE_JWT.lastIndexOf('.')), false],
  ];
  for (const [name, before, value, after, expected] of cases) {
    assert.equal(detectsWithin(name, before, value, after), expected, `${name}: ${before}[${value}]${after}`);
    assert.equal(detects(name, value), expected, `${name}: standalone ${value}`);
  }
});

/** Characters that matter to some detector, so that random neighbours can actually interfere. */
const INTERESTING_CHARS = '0123456789abcdefxyzABCDEFJ-_.:@%[] ';
const interestingString = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...INTERESTING_CHARS), maxLength });

const DETECTOR_SAMPLES = [
  '123e4567-e89b-12d3-a456-426614174000',
  'alice@example.com',
  '10.0.0.1:8080',
  '[fe80::1%eth0]:443',
  '::ffff:192.0.2.1',
  '4bf92f3577b34da6a3ce929d0e0e4736',
  '4111 1111 1111 1111',
  SAMPLE_JWT,
];

test('property: any value gives the same answer alone and inside any neighbouring bytes', () => {
  const valueArb = fc.oneof(interestingString(40), fc.constantFrom(...DETECTOR_SAMPLES), fc.string({ unit: 'binary', maxLength: 40 }));
  fc.assert(
    fc.property(fc.constantFrom(...ALL_DETECTORS), valueArb, interestingString(8), interestingString(8), (name, value, before, after) => {
      assert.equal(detectsWithin(name, before, value, after), detects(name, value));
    }),
    { numRuns: 5000 },
  );
});

// -------------------------------------------------------------------------------------------
// Properties against slow, independent reference implementations (regexes and node:net).

const HEX_CLASS = '[0-9a-fA-F]';
const UUID_REFERENCE = new RegExp(`^${HEX_CLASS}{8}-${HEX_CLASS}{4}-${HEX_CLASS}{4}-${HEX_CLASS}{4}-${HEX_CLASS}{12}$`);
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const PORT = '(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d\\d|6[0-4]\\d{3}|[1-5]\\d{4}|[1-9]\\d{0,3}|0)';
const IPV4_REFERENCE = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}(?::${PORT})?$`);
const HEX_REFERENCE = /^(?:0[xX])?([0-9a-fA-F]{16,})$/;
const JWT_REFERENCE = /^(?:[Bb][Ee][Aa][Rr][Ee][Rr] +)?(eyJ[\w-]*\.eyJ[\w-]*\.[\w-]*)$/;
const EMAIL_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL_REFERENCE = new RegExp(`[A-Za-z0-9_%+-]@(?:${EMAIL_LABEL}\\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-]|\\.[A-Za-z0-9-])`);

function uuidReference(value: string): boolean {
  return UUID_REFERENCE.test(value);
}

function ipv4Reference(value: string): boolean {
  return IPV4_REFERENCE.test(value);
}

function hexReference(value: string): boolean {
  const digits = HEX_REFERENCE.exec(value)?.[1];
  return digits !== undefined && /\d/.test(digits) && /[a-fA-F]/.test(digits);
}

function jwtReference(value: string): boolean {
  const token = JWT_REFERENCE.exec(value)?.[1];
  return token !== undefined && token.length >= 20;
}

function emailReference(value: string): boolean {
  return EMAIL_REFERENCE.test(value);
}

const CARD_NETWORK_PREFIX = /^(?:[456]|3[04-8]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))/;

function luhnReference(digits: string): boolean {
  const sum = [...digits].reverse().reduce((acc, ch, i) => {
    const d = Number(ch) * (i % 2 === 1 ? 2 : 1);
    return acc + (d > 9 ? d - 9 : d);
  }, 0);
  return sum % 10 === 0;
}

/** Tries every substring: a card number with token boundaries on both sides. */
function creditCardReference(value: string): boolean {
  const isAlnum = (ch: string | undefined): boolean => ch !== undefined && /[A-Za-z0-9]/.test(ch);
  const isDigitAt = (i: number): boolean => /\d/.test(value[i] ?? '');
  for (let i = 0; i < value.length; i++) {
    if (isAlnum(value[i - 1]) || (value[i - 1] === '.' && isDigitAt(i - 2))) continue;
    for (let j = i + 13; j <= value.length; j++) {
      if (isAlnum(value[j]) || (value[j] === '.' && isDigitAt(j + 1))) continue;
      const candidate = value.slice(i, j);
      const shaped = /^\d{13,19}$/.test(candidate) || /^\d{4}([ -])\d{3,6}(?:\1\d{3,6})*$/.test(candidate);
      const digits = candidate.replace(/[ -]/g, '');
      if (shaped && digits.length >= 13 && digits.length <= 19 && CARD_NETWORK_PREFIX.test(digits) && luhnReference(digits)) return true;
    }
  }
  return false;
}

/** One random edit (insert, delete or replace a character) applied to a string. */
function mutated(base: fc.Arbitrary<string>, alphabet: string): fc.Arbitrary<string> {
  const edit = fc.record({ kind: fc.constantFrom('insert', 'delete', 'replace'), at: fc.nat(), ch: fc.constantFrom(...alphabet) });
  return fc.tuple(base, fc.array(edit, { maxLength: 3 })).map(([value, edits]) =>
    edits.reduce((s, { kind, at, ch }) => {
      const i = s.length === 0 ? 0 : at % (s.length + (kind === 'insert' ? 1 : 0));
      if (kind === 'insert') return s.slice(0, i) + ch + s.slice(i);
      if (kind === 'delete') return s.slice(0, i) + s.slice(i + 1);
      return s.slice(0, i) + ch + s.slice(i + 1);
    }, value),
  );
}

/**
 * The detector and its reference agree on every generated value; the generator must also have
 * produced a fair share of both answers, or the agreement would say little.
 */
function assertAgrees(name: DetectorName, reference: (value: string) => boolean, values: fc.Arbitrary<string>, numRuns = 3000): void {
  let detected = 0;
  let total = 0;
  fc.assert(
    fc.property(values, (value) => {
      const expected = reference(value);
      assert.equal(detects(name, value), expected, `${name} on ${JSON.stringify(value)}`);
      total++;
      if (expected) detected++;
    }),
    { numRuns },
  );
  assert.ok(detected >= total * 0.05 && detected <= total * 0.95, `${name}: ${detected} of ${total} generated values detected`);
}

const labelShaped = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...TYPICAL_VALUES),
  fc.stringMatching(/^[a-z]{2,10}(\.[a-z0-9-]{1,10}){0,4}$/),
  fc.stringMatching(/^(\/[a-z0-9{}]{1,8}){1,5}$/),
);

test('property: uuid agrees with a reference regex', () => {
  const near = mutated(fc.stringMatching(UUID_REFERENCE), '0123456789abcdefgABCDEF-x ');
  assertAgrees('uuid', uuidReference, fc.oneof(labelShaped, fc.stringMatching(UUID_REFERENCE), near, interestingString(40)));
});

test('property: ipv4 agrees with a reference regex and with node:net', () => {
  const quadShaped = fc.stringMatching(/^\d{1,4}\.\d{1,3}\.\d{1,3}\.\d{1,4}(:\d{0,6})?$/);
  const near = mutated(quadShaped, '0123456789.:a ');
  const values = fc.oneof(labelShaped, quadShaped, near, fc.stringMatching(IPV4_REFERENCE), interestingString(24));
  assertAgrees('ipv4', ipv4Reference, values);
  fc.assert(
    fc.property(values, (value) => {
      if (!value.includes(':')) assert.equal(detects('ipv4', value), isIPv4(value), value);
    }),
    { numRuns: 3000 },
  );
});

test('property: ipv6 agrees with node:net on unbracketed, zone-less values', () => {
  const group = fc.stringMatching(/^[0-9a-fA-F]{1,4}$/);
  const address = fc
    .tuple(fc.array(group, { minLength: 8, maxLength: 8 }), fc.nat(8), fc.nat(8), fc.boolean())
    .map(([groups, from, length, ipv4Tail]) => {
      const parts = ipv4Tail ? [...groups.slice(0, 6), '192.0.2.33'] : groups;
      const start = Math.min(from, parts.length);
      const end = Math.min(parts.length, start + length);
      if (length === 0 || end === start) return parts.join(':');
      return `${parts.slice(0, start).join(':')}::${parts.slice(end).join(':')}`;
    });
  fc.assert(
    fc.property(address, (value) => {
      assert.equal(isIPv6(value), true, `generator produced ${value}`);
      assert.equal(detects('ipv6', value), true, value);
      assert.equal(detects('ipv6', `[${value}]:443`), true, value);
    }),
    { numRuns: 2000 },
  );
  const values = fc.oneof(
    labelShaped,
    mutated(address, '0123456789abcdefg:.'),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.'), maxLength: 45 }),
  );
  assertAgrees('ipv6', isIPv6, values, 5000);
});

test('property: hex agrees with a reference regex', () => {
  const hexShaped = fc.stringMatching(/^(0[xX])?[0-9a-fA-F]{12,40}$/);
  const values = fc.oneof(labelShaped, hexShaped, mutated(hexShaped, '0123456789abcdefgx -'), fc.stringMatching(/^\d{14,20}$/));
  assertAgrees('hex', hexReference, values);
});

test('property: jwt agrees with a reference regex', () => {
  const segment = '[A-Za-z0-9_=-]{0,12}';
  const jwtShaped = fc.stringMatching(new RegExp(`^((Bearer|bEaReR|Basic) {0,2})?(eyJ${segment}\\.){1,3}${segment}$`));
  const values = fc.oneof(labelShaped, jwtShaped, mutated(jwtShaped, 'eyJ.=_- xB'), fc.constant(SAMPLE_JWT));
  assertAgrees('jwt', jwtReference, values);
});

test('property: email agrees with a reference regex', () => {
  const label = fc.oneof({ arbitrary: fc.stringMatching(/^[a-z]{1,6}$/), weight: 3 }, fc.stringMatching(/^[a-z0-9-]{1,6}$/));
  const tld = fc.oneof({ arbitrary: fc.stringMatching(/^[a-z]{1,4}$/), weight: 3 }, fc.stringMatching(/^[a-z0-9-]{1,3}$/));
  const emailShaped = fc
    .tuple(fc.stringMatching(/^[a-z .<]{0,4}$/), fc.stringMatching(/^[a-z0-9._%+-]{1,6}$/), fc.array(label, { minLength: 0, maxLength: 3 }), tld)
    .chain(([before, local, labels, top]) =>
      fc.stringMatching(/^[ .,:>1-]{0,2}$/).map((after) => `${before}${local}@${[...labels, top].join('.')}${after}`),
    );
  const values = fc.oneof(labelShaped, { arbitrary: emailShaped, weight: 3 }, mutated(emailShaped, 'a1.-@ _'), interestingString(30));
  assertAgrees('email', emailReference, values, 5000);
});

test('property: credit_card agrees with a brute-force reference', () => {
  const cardDigits = fc
    .tuple(fc.constantFrom('4', '51', '55', '34', '37', '6011', '2221', '2720', '1', '9', '30', '31'), fc.nat(6))
    .chain(([prefix, extra]) => fc.stringMatching(new RegExp(`^\\d{${12 - prefix.length + extra}}$`)).map((rest) => withLuhnCheckDigit(prefix + rest)));
  const grouped = fc.tuple(cardDigits, fc.constantFrom('', ' ', '-'), fc.constantFrom([4, 4, 4, 4, 3], [4, 6, 5], [4, 6, 4], [4, 3, 3, 3, 3])).map(
    ([digits, separator, sizes]) => {
      const groups: string[] = [];
      let at = 0;
      for (const size of sizes) {
        if (at >= digits.length) break;
        groups.push(digits.slice(at, at + size));
        at += size;
      }
      if (at < digits.length) groups.push(digits.slice(at));
      return groups.join(separator);
    },
  );
  const around = fc.oneof({ arbitrary: fc.constantFrom('', ' ', 'card ', 'x', '0.', '9', '12 ', '-', '.'), weight: 3 }, interestingString(6));
  const card = fc.oneof({ arbitrary: grouped, weight: 2 }, mutated(grouped, '0123456789 -.x'));
  const inText = fc.tuple(around, card, around).map(([before, value, after]) => before + value + after);
  const values = fc.oneof(labelShaped, { arbitrary: inText, weight: 4 }, fc.stringMatching(/^[\d -]{13,30}$/));
  assertAgrees('credit_card', creditCardReference, values, 5000);
});

test('property: detectors never throw on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(64), fc.nat(64), (bytes, a, b) => {
      const start = Math.min(a, b, bytes.length);
      const end = Math.min(Math.max(a, b), bytes.length);
      for (const name of ALL_DETECTORS) assert.equal(typeof DETECTORS[name].test(bytes, start, end), 'boolean');
    }),
    { numRuns: 3000 },
  );
});

// -------------------------------------------------------------------------------------------
// Custom regex detectors

test('createRegexDetector decodes the range as UTF-8 and tests the pattern on it', () => {
  const detector = createRegexDetector('customer_id', /^cus_[A-Za-z0-9]{8,}$/);
  assert.equal(detector.name, 'customer_id');
  const bytes = encoder.encode('xxcus_AbCdEf12!!');
  assert.equal(detector.test(bytes, 2, 14), true);
  assert.equal(detector.test(bytes, 0, 14), false); // the bytes before the range count once inside it
  assert.equal(detector.test(bytes, 2, 16), false);

  const unicode = createRegexDetector('name', /^Zoë$/u);
  const zoe = encoder.encode('>Zoë<');
  assert.equal(unicode.test(zoe, 1, zoe.length - 1), true);
  const asBuffer = Buffer.from(zoe);
  assert.equal(unicode.test(asBuffer, 1, asBuffer.length - 1), true);
});

test('createRegexDetector is stateless even for a global or sticky pattern', () => {
  for (const pattern of [/secret/g, /secret/y, /secret/gi]) {
    const detector = createRegexDetector('secret', pattern);
    const bytes = encoder.encode('secret');
    for (let i = 0; i < 4; i++) assert.equal(detector.test(bytes, 0, bytes.length), true, `${pattern} run ${i}`);
  }
  assert.equal(createRegexDetector('ci', /SECRET/gi).test(encoder.encode('a secret'), 0, 8), true);
});
