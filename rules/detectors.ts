import { Buffer } from 'node:buffer';
import type { DetectorName, ValueDetector } from './compiled.js';

/**
 * Value detectors: recognise PII-like and high-cardinality string values directly on the UTF-8
 * bytes [start, end) of an attribute value (or log body) inside the request buffer, without
 * decoding, allocating or using regexes. They run on every string value of every item, so each
 * one rejects on length first and then on the first or most distinctive bytes: typical values
 * ("GET", "200", "/api/v1/orders/{id}", "checkout.shop.svc.cluster.local") are turned away after
 * a byte or two (the two "contains" detectors scan the value once).
 *
 * Detectors are syntactic: `1.2.3.4` is an IPv4 address even when it is a version number, and
 * a nil UUID is a UUID. Bytes outside [start, end) are never read, so a value's neighbours in
 * the buffer cannot change the answer.
 *
 * What counts as a match:
 * - whole value is one token: `uuid`, `ipv4`, `ipv6`, `hex`, `jwt` (identifiers and addresses
 *   are attribute values of their own; no whitespace trimming).
 * - value contains one: `email`, `credit_card` (they appear inside messages and log bodies).
 * Every detector is ASCII-only: a non-ASCII byte never belongs to a match.
 */

// ---------------------------------------------------------------------------------------------
// Byte classes: one table read per byte instead of range comparisons.

const HEX = 1;
const DIGIT = 2;
const LETTER = 4;
/** JWT segments: A–Z a–z 0–9 - _ (no padding). */
const BASE64URL = 8;
/** The last character of an e-mail local part: A–Z a–z 0–9 _ % + - (conservative: no '.'). */
const EMAIL_LOCAL = 16;
/** Domain labels: A–Z a–z 0–9 -. */
const DOMAIN_LABEL = 32;
/** IPv6 zone ids (RFC 4007 / 6874 unreserved): A–Z a–z 0–9 - . _ ~. */
const ZONE_ID = 64;

const CHAR_CLASS: Uint8Array = buildCharClassTable();

function buildCharClassTable(): Uint8Array {
  const table = new Uint8Array(256);
  const add = (chars: string, flags: number): void => {
    for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] |= flags;
  };
  const digits = '0123456789';
  const upper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const lower = upper.toLowerCase();
  const alnum = digits + upper + lower;
  add(digits + 'abcdefABCDEF', HEX);
  add(digits, DIGIT);
  add(upper + lower, LETTER);
  add(alnum + '-_', BASE64URL);
  add(alnum + '_%+-', EMAIL_LOCAL);
  add(alnum + '-', DOMAIN_LABEL);
  add(alnum + '-._~', ZONE_ID);
  return table;
}

const ALNUM = DIGIT | LETTER;

const CH_SPACE = 0x20;
const CH_PERCENT = 0x25;
const CH_HYPHEN = 0x2d;
const CH_DOT = 0x2e;
const CH_0 = 0x30;
const CH_COLON = 0x3a;
const CH_AT = 0x40;
const CH_J = 0x4a;
const CH_LEFT_BRACKET = 0x5b;
const CH_RIGHT_BRACKET = 0x5d;
const CH_LOWER_B = 0x62;
const CH_LOWER_E = 0x65;
const CH_LOWER_X = 0x78;
const CH_LOWER_Y = 0x79;
/** OR-ing an ASCII letter with this gives its lower-case form. */
const ASCII_LOWER_BIT = 0x20;

function isDigit(byte: number): boolean {
  return (CHAR_CLASS[byte] & DIGIT) !== 0;
}

function isHexDigit(byte: number): boolean {
  return (CHAR_CLASS[byte] & HEX) !== 0;
}

// ---------------------------------------------------------------------------------------------
// Shared decimal pieces (IPv4 octets, ports).

/**
 * One IPv4 octet at p: 0–255 in 1–3 digits, no leading zero ("0" itself is fine; "01" is not,
 * since some parsers read it as octal). Returns the index after it, or -1.
 */
function scanDecimalOctet(buf: Uint8Array, p: number, end: number): number {
  if (p >= end || !isDigit(buf[p])) return -1;
  if (buf[p] === CH_0) return p + 1 < end && isDigit(buf[p + 1]) ? -1 : p + 1;
  let value = 0;
  const limit = Math.min(end, p + 3);
  while (p < limit && isDigit(buf[p])) value = value * 10 + (buf[p++] - CH_0);
  if (value > 255 || (p < end && isDigit(buf[p]))) return -1;
  return p;
}

/** A dotted quad at p; returns the index after the fourth octet, or -1. */
function scanIpv4Address(buf: Uint8Array, p: number, end: number): number {
  p = scanDecimalOctet(buf, p, end);
  for (let octet = 1; octet < 4 && p >= 0; octet++) {
    if (p >= end || buf[p] !== CH_DOT) return -1;
    p = scanDecimalOctet(buf, p + 1, end);
  }
  return p;
}

/** [p, end) is a TCP/UDP port: 0–65535, 1–5 digits, no leading zero. */
function isPort(buf: Uint8Array, p: number, end: number): boolean {
  const length = end - p;
  if (length < 1 || length > 5) return false;
  if (buf[p] === CH_0) return length === 1;
  let value = 0;
  for (; p < end; p++) {
    if (!isDigit(buf[p])) return false;
    value = value * 10 + (buf[p] - CH_0);
  }
  return value <= 65535;
}

// ---------------------------------------------------------------------------------------------
// uuid: the whole value is 8-4-4-4-12 hex digits, either case (36 bytes). Version and variant
// bits are not checked (nil and non-RFC UUIDs are still identifiers). The 32-digit form without
// dashes is left to `hex`; braces and `urn:uuid:` prefixes are not accepted.

const UUID_LENGTH = 36;

function isHexRun(buf: Uint8Array, p: number, count: number): boolean {
  for (const stop = p + count; p < stop; p++) if (!isHexDigit(buf[p])) return false;
  return true;
}

function isUuid(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== UUID_LENGTH) return false;
  // The dashes are the most distinctive bytes: check them before any hex digit.
  if (buf[start + 8] !== CH_HYPHEN || buf[start + 13] !== CH_HYPHEN) return false;
  if (buf[start + 18] !== CH_HYPHEN || buf[start + 23] !== CH_HYPHEN) return false;
  return (
    isHexRun(buf, start, 8) &&
    isHexRun(buf, start + 9, 4) &&
    isHexRun(buf, start + 14, 4) &&
    isHexRun(buf, start + 19, 4) &&
    isHexRun(buf, start + 24, 12)
  );
}

// ---------------------------------------------------------------------------------------------
// ipv4: the whole value is a dotted quad (each octet 0–255, no leading zeros), optionally
// followed by `:port` (0–65535), because `server.address`/`net.peer.name`-like values and
// log fields often carry one. Syntactic: a four-part version string such as 1.2.3.4 matches.

const IPV4_MIN_LENGTH = 7; // 0.0.0.0
const IPV4_MAX_LENGTH = 21; // 255.255.255.255:65535

function isIpv4(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < IPV4_MIN_LENGTH || length > IPV4_MAX_LENGTH || !isDigit(buf[start])) return false;
  const p = scanIpv4Address(buf, start, end);
  if (p < 0) return false;
  return p === end || (buf[p] === CH_COLON && isPort(buf, p + 1, end));
}

// ---------------------------------------------------------------------------------------------
// ipv6: the whole value is an RFC 4291 text address — eight groups of 1–4 hex digits, or fewer
// with one `::` standing for at least one zero group, the last 32 bits optionally written as a
// dotted quad (::ffff:192.0.2.1) — with an optional zone id (fe80::1%eth0), optionally inside
// brackets, which may be followed by a port ([::1]:8080, [fe80::1%25en0]). A port is only
// accepted after brackets, since `::1:80` is itself an address. Times (12:30:45), MAC addresses
// (6 groups) and `a:b` keys do not have enough groups and no `::`, so they are rejected.
// Syntactic: `::`, `a::b` and 8-group hex strings such as aa:bb:cc:dd:ee:ff:00:11 are addresses.

const IPV6_MAX_GROUPS = 8;
const IPV6_MAX_ZONE_LENGTH = 32;
// [ + ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 (45) + %zone + ] + :65535
const IPV6_MAX_LENGTH = 1 + 45 + 1 + IPV6_MAX_ZONE_LENGTH + 1 + 6;
const IPV6_MIN_LENGTH = 2; // ::

/**
 * The address part (no zone, no brackets) starting at p. Stops at the first byte that cannot
 * continue it and returns that index, or -1 if what was read is not a complete address.
 */
function scanIpv6Address(buf: Uint8Array, p: number, end: number): number {
  let groups = 0;
  let compressed = false;
  if (p < end && buf[p] === CH_COLON) {
    // Only `::` may open an address.
    if (p + 1 >= end || buf[p + 1] !== CH_COLON) return -1;
    compressed = true;
    p += 2;
    if (p >= end || !isHexDigit(buf[p])) return p;
  }
  while (true) {
    const groupStart = p;
    // Read up to 5 hex digits: a fifth one means an over-long group.
    while (p < end && p - groupStart < 5 && isHexDigit(buf[p])) p++;
    if (p < end && buf[p] === CH_DOT) {
      // An embedded IPv4 address is the last 32 bits: nothing of the address may follow it.
      const afterIpv4 = scanIpv4Address(buf, groupStart, end);
      if (afterIpv4 < 0) return -1;
      groups += 2;
      p = afterIpv4;
      break;
    }
    const digits = p - groupStart;
    if (digits === 0 || digits > 4) return -1;
    if (++groups > IPV6_MAX_GROUPS) return -1;
    if (p >= end || buf[p] !== CH_COLON) break;
    if (p + 1 < end && buf[p + 1] === CH_COLON) {
      if (compressed) return -1; // at most one `::`
      compressed = true;
      p += 2;
      if (p >= end || !isHexDigit(buf[p])) break;
    } else {
      p++; // a single ':' must be followed by another group (checked at the top of the loop)
    }
  }
  const complete = compressed ? groups < IPV6_MAX_GROUPS : groups === IPV6_MAX_GROUPS;
  return complete ? p : -1;
}

/** A zone id `%name` at p (p points at '%'); returns the index after it, or -1. */
function scanZoneId(buf: Uint8Array, p: number, end: number): number {
  if (p >= end || buf[p] !== CH_PERCENT) return -1;
  const nameStart = ++p;
  while (p < end && (CHAR_CLASS[buf[p]] & ZONE_ID) !== 0) p++;
  const nameLength = p - nameStart;
  return nameLength >= 1 && nameLength <= IPV6_MAX_ZONE_LENGTH ? p : -1;
}

/** `[address%zone]:port` with p just after '['. */
function isBracketedIpv6(buf: Uint8Array, p: number, end: number): boolean {
  p = scanIpv6Address(buf, p, end);
  if (p < 0) return false;
  if (p < end && buf[p] === CH_PERCENT) p = scanZoneId(buf, p, end);
  if (p < 0 || p >= end || buf[p] !== CH_RIGHT_BRACKET) return false;
  p++;
  return p === end || (buf[p] === CH_COLON && isPort(buf, p + 1, end));
}

function isIpv6(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < IPV6_MIN_LENGTH || length > IPV6_MAX_LENGTH) return false;
  const first = buf[start];
  if (first === CH_LEFT_BRACKET) return isBracketedIpv6(buf, start + 1, end);
  if (first !== CH_COLON && !isHexDigit(first)) return false;
  const p = scanIpv6Address(buf, start, end);
  if (p < 0) return false;
  return p === end || scanZoneId(buf, p, end) === end;
}

// ---------------------------------------------------------------------------------------------
// hex: the whole value is a hash-like hex string — at least 16 hex digits (a 64-bit id; trace
// and span ids, digests, API keys), optionally prefixed with 0x/0X, either case. It must hold at
// least one digit AND at least one letter a–f: all-digit strings are order numbers, phone
// numbers or timestamps, and all-letter ones are words ("deadbeefcafebabe"); a random 16-digit
// hex string has fewer than 1 in 1,500 chances of being either. Base64 digests are not covered.

const HEX_MIN_DIGITS = 16;

function isHexString(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < HEX_MIN_DIGITS) return false;
  let p = start;
  if (buf[p] === CH_0 && (buf[p + 1] | ASCII_LOWER_BIT) === CH_LOWER_X) {
    p += 2;
    if (end - p < HEX_MIN_DIGITS) return false;
  }
  let seen = 0;
  for (; p < end; p++) {
    const byteClass = CHAR_CLASS[buf[p]];
    if ((byteClass & HEX) === 0) return false;
    seen |= byteClass;
  }
  return (seen & DIGIT) !== 0 && (seen & LETTER) !== 0;
}

// ---------------------------------------------------------------------------------------------
// jwt: the whole value is a compact JWS — header.payload.signature in base64url without padding,
// where header and payload are JSON objects (so both start with `eyJ`, the encoding of `{"`),
// optionally after an HTTP `Bearer ` scheme (case-insensitive, one or more spaces) since
// Authorization-like attributes carry it. The signature may be empty: an unsecured JWT
// (alg "none", RFC 7519 §6) carries the same claims. A token is at least 20 bytes long.
// Five-segment JWE tokens are not covered (their second segment is not JSON).

const JWT_MIN_LENGTH = 20;
const BEARER = 'bearer';

/** After a case-insensitive `Bearer` and its spaces at p: the token's start, or -1. */
function skipBearerScheme(buf: Uint8Array, p: number, end: number): number {
  if (end - p <= BEARER.length) return -1;
  for (let i = 0; i < BEARER.length; i++) {
    if ((buf[p + i] | ASCII_LOWER_BIT) !== BEARER.charCodeAt(i)) return -1;
  }
  p += BEARER.length;
  if (buf[p] !== CH_SPACE) return -1;
  while (p < end && buf[p] === CH_SPACE) p++;
  return p;
}

/** A base64url JSON-object segment (`eyJ…`) at p ending in '.': returns the dot's index, or -1. */
function scanJsonSegment(buf: Uint8Array, p: number, end: number): number {
  if (end - p < 4 || buf[p] !== CH_LOWER_E || buf[p + 1] !== CH_LOWER_Y || buf[p + 2] !== CH_J) return -1;
  p += 3;
  while (p < end && (CHAR_CLASS[buf[p]] & BASE64URL) !== 0) p++;
  return p < end && buf[p] === CH_DOT ? p : -1;
}

function isJwtToken(buf: Uint8Array, p: number, end: number): boolean {
  if (end - p < JWT_MIN_LENGTH) return false;
  const headerEnd = scanJsonSegment(buf, p, end);
  if (headerEnd < 0) return false;
  const payloadEnd = scanJsonSegment(buf, headerEnd + 1, end);
  if (payloadEnd < 0) return false;
  for (p = payloadEnd + 1; p < end; p++) if ((CHAR_CLASS[buf[p]] & BASE64URL) === 0) return false;
  return true;
}

function isJwt(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < JWT_MIN_LENGTH) return false;
  const first = buf[start];
  if (first === CH_LOWER_E) return isJwtToken(buf, start, end);
  if ((first | ASCII_LOWER_BIT) !== CH_LOWER_B) return false;
  const tokenStart = skipBearerScheme(buf, start, end);
  return tokenStart >= 0 && isJwtToken(buf, tokenStart, end);
}

// ---------------------------------------------------------------------------------------------
// email: the value contains local@domain.tld. Conservative, to keep false positives low:
// - the byte before '@' is A–Z a–z 0–9 _ % + - (so `@handle`, `x.@y.com` and ` @x` do not
//   count); the rest of the local part is not inspected (we only need to know one is there);
// - the domain is two or more labels of A–Z a–z 0–9 and '-' (1–63 bytes, no leading or
//   trailing '-') joined by single dots; the last label, the TLD, is ≥ 2 letters only (so
//   `a@b`, `foo@bar.c`, `pkg@1.2.3` do not count). A trailing '.' (end of a sentence) is not
//   part of the domain. No IP-literal domains, quoted local parts or non-ASCII addresses.
// Syntactic: `git@github.com:org/repo` and `https://user:pw@host.example/` contain a match.

const EMAIL_MIN_LENGTH = 6; // a@b.co
const EMAIL_MIN_DOMAIN_LENGTH = 4; // b.co
const DOMAIN_LABEL_MAX_LENGTH = 63;
const TLD_MIN_LENGTH = 2;

/** A domain with a dot and an alphabetic TLD starts at p (whatever follows it). */
function isEmailDomainAt(buf: Uint8Array, p: number, end: number): boolean {
  let labels = 0;
  while (true) {
    const labelStart = p;
    let lettersOnly = true;
    while (p < end && (CHAR_CLASS[buf[p]] & DOMAIN_LABEL) !== 0) {
      if ((CHAR_CLASS[buf[p]] & LETTER) === 0) lettersOnly = false;
      p++;
    }
    const labelLength = p - labelStart;
    if (labelLength === 0 || labelLength > DOMAIN_LABEL_MAX_LENGTH) return false;
    if (buf[labelStart] === CH_HYPHEN || buf[p - 1] === CH_HYPHEN) return false;
    labels++;
    if (p + 1 < end && buf[p] === CH_DOT && (CHAR_CLASS[buf[p + 1]] & DOMAIN_LABEL) !== 0) {
      p++;
      continue;
    }
    return labels >= 2 && lettersOnly && labelLength >= TLD_MIN_LENGTH;
  }
}

function containsEmail(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < EMAIL_MIN_LENGTH) return false;
  // '@' needs a local-part byte before it and room for "b.co" after it. Each domain scan stops
  // at the next byte that is not a label byte or dot (e.g. the next '@'), so the whole search
  // stays linear in the value's length.
  const lastAt = end - 1 - EMAIL_MIN_DOMAIN_LENGTH;
  for (let i = start + 1; i <= lastAt; i++) {
    if (buf[i] !== CH_AT) continue;
    if ((CHAR_CLASS[buf[i - 1]] & EMAIL_LOCAL) !== 0 && isEmailDomainAt(buf, i + 1, end)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// credit_card: the value contains a payment card number — 13–19 digits that pass the Luhn check
// and start with a card network's prefix, written either
// - contiguously (4111111111111111): a maximal digit run, so a 20+ digit run never matches; or
// - in groups separated by single spaces or single dashes, the same separator throughout:
//   a first group of exactly 4 digits, then groups of 3–6 (4-4-4-4, Amex 4-6-5, Diners 4-6-4,
//   4-4-4-4-3). The number may be followed by further groups (`4111 1111 1111 1111 12/25`).
// The number must be a token of its own: not glued to letters or digits on either side
// (`ord4111111111111111x` is an identifier, not a card) and not part of a decimal number
// (`0.4111111111111111`, a float's fraction digits). Network prefixes — 4 (Visa), 5 (Mastercard,
// Maestro), 6 (Discover, UnionPay, Maestro), 30/34–38 (Diners, JCB, Amex), 2221–2720
// (Mastercard) — rule out epoch timestamps (1…, 13 and 19 digits) and compact dates (20…), the
// commonest Luhn-passing digit runs in telemetry.

const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;
const CARD_FIRST_GROUP_DIGITS = 4;
const CARD_GROUP_MIN_DIGITS = 3;
const CARD_GROUP_MAX_DIGITS = 6;

/** The four digits at p open a card number of some network (they are known to be digits). */
function hasCardNetworkPrefix(buf: Uint8Array, p: number): boolean {
  const first = buf[p] - CH_0;
  if (first >= 4 && first <= 6) return true;
  if (first === 3) {
    const second = buf[p + 1] - CH_0;
    return second === 0 || (second >= 4 && second <= 8);
  }
  if (first === 2) {
    const prefix = (buf[p + 1] - CH_0) * 100 + (buf[p + 2] - CH_0) * 10 + (buf[p + 3] - CH_0) + 2000;
    return prefix >= 2221 && prefix <= 2720;
  }
  return false;
}

/** The digit run at p may begin a number: not glued to an alnum token or a decimal point. */
function isNumberStart(buf: Uint8Array, start: number, p: number): boolean {
  if (p === start) return true;
  const before = buf[p - 1];
  if ((CHAR_CLASS[before] & ALNUM) !== 0) return false;
  return !(before === CH_DOT && p - 1 > start && isDigit(buf[p - 2]));
}

/** A number may end at q (the byte after its last digit). */
function isNumberEnd(buf: Uint8Array, q: number, end: number): boolean {
  if (q === end) return true;
  const after = buf[q];
  if ((CHAR_CLASS[after] & ALNUM) !== 0) return false;
  return !(after === CH_DOT && q + 1 < end && isDigit(buf[q + 1]));
}

/** Luhn (mod 10) over the digits of [p, q), skipping group separators. */
function passesLuhn(buf: Uint8Array, p: number, q: number): boolean {
  let sum = 0;
  let doubled = false;
  for (let i = q - 1; i >= p; i--) {
    const digit = buf[i] - CH_0;
    if (digit < 0 || digit > 9) continue;
    if (doubled) sum += digit > 4 ? digit * 2 - 9 : digit * 2;
    else sum += digit;
    doubled = !doubled;
  }
  return sum % 10 === 0;
}

/**
 * A card number starts at the digit run [p, runEnd) (a maximal run, known to be a number start).
 */
function isCardNumberAt(buf: Uint8Array, p: number, runEnd: number, end: number): boolean {
  const runLength = runEnd - p;
  if (runLength < CARD_FIRST_GROUP_DIGITS || !hasCardNetworkPrefix(buf, p)) return false;
  if (runLength >= CARD_MIN_DIGITS) {
    return runLength <= CARD_MAX_DIGITS && isNumberEnd(buf, runEnd, end) && passesLuhn(buf, p, runEnd);
  }
  if (runLength !== CARD_FIRST_GROUP_DIGITS || runEnd >= end) return false;
  const separator = buf[runEnd];
  if (separator !== CH_SPACE && separator !== CH_HYPHEN) return false;
  let digits = runLength;
  let q = runEnd;
  while (q < end && buf[q] === separator) {
    const groupStart = q + 1;
    q = groupStart;
    while (q < end && isDigit(buf[q])) q++;
    const groupLength = q - groupStart;
    if (groupLength < CARD_GROUP_MIN_DIGITS || groupLength > CARD_GROUP_MAX_DIGITS) return false;
    digits += groupLength;
    if (digits > CARD_MAX_DIGITS) return false;
    if (digits >= CARD_MIN_DIGITS && isNumberEnd(buf, q, end) && passesLuhn(buf, p, q)) return true;
  }
  return false;
}

function containsCreditCard(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < CARD_MIN_DIGITS) return false;
  // Every card number opens with a run of at least 4 digits, so only every 4th byte needs a
  // look: if `probe` is not a digit, no such run can cover it and the next one to check is
  // probe + 4. On a digit, widen to the whole digit run and try it.
  let probe = start + CARD_FIRST_GROUP_DIGITS - 1;
  while (probe < end) {
    if (!isDigit(buf[probe])) {
      probe += CARD_FIRST_GROUP_DIGITS;
      continue;
    }
    let runStart = probe;
    while (runStart > start && isDigit(buf[runStart - 1])) runStart--;
    let runEnd = probe + 1;
    while (runEnd < end && isDigit(buf[runEnd])) runEnd++;
    if (runEnd - runStart >= CARD_FIRST_GROUP_DIGITS && isNumberStart(buf, start, runStart) && isCardNumberAt(buf, runStart, runEnd, end)) {
      return true;
    }
    // buf[runEnd] is not a digit: the next run's 4th digit is at runEnd + 4 at the earliest.
    probe = runEnd + CARD_FIRST_GROUP_DIGITS;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The registry and custom detectors.

function detector(name: DetectorName, test: ValueDetector['test']): ValueDetector {
  return Object.freeze({ name, test });
}

/** The built-in detectors by name (see each section above for what counts as a match). */
export const DETECTORS: Readonly<Record<DetectorName, ValueDetector>> = Object.freeze({
  uuid: detector('uuid', isUuid),
  email: detector('email', containsEmail),
  ipv4: detector('ipv4', isIpv4),
  ipv6: detector('ipv6', isIpv6),
  hex: detector('hex', isHexString),
  credit_card: detector('credit_card', containsCreditCard),
  jwt: detector('jwt', isJwt),
});

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  return buf instanceof Buffer ? buf.toString('utf8', start, end) : utf8Decoder.decode(buf.subarray(start, end));
}

/**
 * A detector for a user-supplied regex: the value is decoded (this allocates, which is accepted
 * for custom detectors) and tested with `pattern.test`, so the pattern matches anywhere in the
 * value unless it is anchored. The `g` and `y` flags are dropped: with them `test` is stateful
 * (it resumes from `lastIndex`) and the same value could match and then not match.
 */
export function createRegexDetector(name: string, pattern: RegExp): ValueDetector {
  const stateless = pattern.global || pattern.sticky ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')) : pattern;
  return Object.freeze({
    name,
    test: (buf: Uint8Array, start: number, end: number): boolean => stateless.test(decodeUtf8(buf, start, end)),
  });
}
