import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BODY_CONTENT_TYPE,
  decodeExportResponse,
  decodeStatus,
  encodeExportResponse,
  encodeStatus,
  GrpcStatus,
} from '../../../collector/otlp/status.js';
import { RESPONSE_MESSAGE } from '../../../collector/otlp/schema.js';
import { SIGNALS } from '../../../collector/otlp/signal.js';
import { oracleDecode } from './oracle.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

test('gRPC status codes have their standard numbers', () => {
  assert.equal(GrpcStatus.OK, 0);
  assert.equal(GrpcStatus.INVALID_ARGUMENT, 3);
  assert.equal(GrpcStatus.RESOURCE_EXHAUSTED, 8);
  assert.equal(GrpcStatus.UNIMPLEMENTED, 12);
  assert.equal(GrpcStatus.INTERNAL, 13);
  assert.equal(GrpcStatus.UNAVAILABLE, 14);
  assert.equal(GrpcStatus.UNAUTHENTICATED, 16);
  assert.equal(BODY_CONTENT_TYPE.protobuf, 'application/x-protobuf');
});

test('google.rpc.Status protobuf: code is field 1 varint, message field 2 string', () => {
  const bytes = encodeStatus(GrpcStatus.INVALID_ARGUMENT, 'bad', 'protobuf');
  assert.deepStrictEqual(Array.from(bytes), [0x08, 0x03, 0x12, 0x03, 0x62, 0x61, 0x64]);
  assert.deepStrictEqual(decodeStatus(bytes, 'protobuf'), { code: 3, message: 'bad' });
  // OK with no message is the empty message.
  assert.equal(encodeStatus(GrpcStatus.OK, '', 'protobuf').length, 0);
  assert.deepStrictEqual(decodeStatus(new Uint8Array(0), 'protobuf'), { code: 0, message: '' });
  // details (field 3, google.protobuf.Any) written by someone else are skipped.
  const withDetails = Uint8Array.from([...bytes, 0x1a, 0x02, 0x0a, 0x00]);
  assert.deepStrictEqual(decodeStatus(withDetails, 'protobuf'), { code: 3, message: 'bad' });
});

test('google.rpc.Status JSON keeps code and message', () => {
  const bytes = encodeStatus(GrpcStatus.RESOURCE_EXHAUSTED, 'request of 9 MiB is over the 4 MiB limit', 'json');
  assert.equal(text(bytes), '{"code":8,"message":"request of 9 MiB is over the 4 MiB limit"}');
  assert.deepStrictEqual(decodeStatus(bytes, 'json'), { code: 8, message: 'request of 9 MiB is over the 4 MiB limit' });
  assert.throws(() => encodeStatus(-1, 'x', 'json'), RangeError);
});

for (const signal of SIGNALS) {
  const rejectedField = { metrics: 'rejectedDataPoints', traces: 'rejectedSpans', logs: 'rejectedLogRecords' }[signal];

  test(`${signal}: a full success is an empty response`, () => {
    assert.equal(encodeExportResponse(signal, undefined, 'protobuf').length, 0);
    assert.equal(encodeExportResponse(signal, { rejected: 0, message: '' }, 'protobuf').length, 0);
    assert.equal(text(encodeExportResponse(signal, undefined, 'json')), '{}');
    assert.equal(decodeExportResponse(signal, new Uint8Array(0), 'protobuf'), undefined);
  });

  test(`${signal}: partial success is read back by the oracle`, () => {
    const bytes = encodeExportResponse(signal, { rejected: 12, message: '12 points over budget' }, 'protobuf');
    assert.deepStrictEqual(oracleDecode(RESPONSE_MESSAGE[signal], bytes), {
      partialSuccess: { [rejectedField]: '12', errorMessage: '12 points over budget' },
    });
    assert.deepStrictEqual(decodeExportResponse(signal, bytes, 'protobuf'), { rejected: 12, message: '12 points over budget' });
  });

  test(`${signal}: a warning has zero rejected and a message`, () => {
    const bytes = encodeExportResponse(signal, { rejected: 0, message: 'label user_id dropped' }, 'protobuf');
    assert.deepStrictEqual(oracleDecode(RESPONSE_MESSAGE[signal], bytes), { partialSuccess: { errorMessage: 'label user_id dropped' } });
    assert.deepStrictEqual(decodeExportResponse(signal, bytes, 'protobuf'), { rejected: 0, message: 'label user_id dropped' });
  });

  test(`${signal}: partial success in JSON uses the OTLP/JSON field names`, () => {
    const bytes = encodeExportResponse(signal, { rejected: 3, message: 'x' }, 'json');
    assert.equal(text(bytes), `{"partialSuccess":{"${rejectedField}":"3","errorMessage":"x"}}`);
    assert.deepStrictEqual(decodeExportResponse(signal, bytes, 'json'), { rejected: 3, message: 'x' });
    // A peer writing the count as a number is read too.
    const numeric = Buffer.from(`{"partialSuccess":{"${rejectedField}":3}}`);
    assert.deepStrictEqual(decodeExportResponse(signal, numeric, 'json'), { rejected: 3, message: '' });
  });
}

test('an invalid rejected count is refused', () => {
  assert.throws(() => encodeExportResponse('logs', { rejected: -1, message: 'x' }, 'json'), RangeError);
  assert.throws(() => encodeExportResponse('logs', { rejected: 1.5, message: '' }, 'protobuf'), RangeError);
});
