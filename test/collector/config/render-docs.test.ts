import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable, replaceConfigTable } from '../../../collector/config/render-docs.js';

const docPath = new URL('../../../docs/config.md', import.meta.url);

test('docs/config.md holds exactly the table generated from the schema', () => {
  const doc = readFileSync(docPath, 'utf8');
  const table = renderConfigTable();
  assert.ok(
    doc.includes(`${CONFIG_TABLE_START}\n${table}${CONFIG_TABLE_END}`),
    'docs/config.md is out of date: run `node --import tsx collector/config/render-docs.ts`',
  );
  assert.equal(replaceConfigTable(doc), doc);
});

test('the generated table covers every key, with defaults as a user writes them', () => {
  const table = renderConfigTable();
  assert.match(table, /^\| Key \| Type \| Default \| Description \|\n\|---\|---\|---\|---\|\n/);
  for (const row of [
    '| `data_dir` | string | `./data` |',
    '| `receivers.otlp.protocols.http.max_request_body_size` | byte size | `64MiB` |',
    '| `exporters.otlphttp[/<name>].endpoint` | url | required |',
    '| `exporters.otlphttp[/<name>].retry_on_failure.max_elapsed_time` | duration | `300s` |',
    '| `rules` | string or null | `null` |',
    '| `telemetry.logs.level` | one of `debug`, `info`, `warn`, `error` | `info` |',
  ]) {
    assert.ok(table.includes(row), row);
  }
});

test('replaceConfigTable swaps only the marked block and needs both markers', () => {
  const doc = `# Title\n\nprose\n\n${CONFIG_TABLE_START}\nold table\n${CONFIG_TABLE_END}\n\nmore prose\n`;
  assert.equal(replaceConfigTable(doc, '| new |\n'), `# Title\n\nprose\n\n${CONFIG_TABLE_START}\n| new |\n${CONFIG_TABLE_END}\n\nmore prose\n`);
  assert.throws(() => replaceConfigTable('# no markers\n', ''), /must contain <!-- config-table:start -->/);
});
