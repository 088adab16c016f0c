/**
 * `tollgate budget --api URL --team T [--token TOKEN] [--fail-above 0.9]`: a team's metrics
 * budget from a running Tollgate, for a CI step that should stop a deploy when the team is
 * already near its limit.
 *
 * Exit codes: 0 at or below the threshold (or no limit); 3 utilization above --fail-above;
 * 2 usage error; 1 the API could not be asked (unreachable, bad token, unknown team).
 */
import { parseArgs } from 'node:util';
import { parseFraction } from './check.js';
import { CheckIoError, teamBudget } from './check-io.js';
import type { Fetch } from './check-io.js';

export const BUDGET_EXIT = { OK: 0, ERROR: 1, USAGE: 2, FINDINGS: 3 } as const;

export const BUDGET_USAGE = `Usage: tollgate budget --api URL --team TEAM [--token TOKEN] [--fail-above 0.9] [--format human|json]

Prints the team's metrics budget (limit, active series, utilization, status) from a running Tollgate.
  --token TOKEN      bearer token (default $TOLLGATE_TOKEN)
  --fail-above X     exit 3 when utilization is above X (a fraction such as 0.9, or 90%; default 1)
Exit codes: 0 within the threshold, 3 above it, 2 usage error, 1 the API could not be asked.`;

export interface BudgetIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch: Fetch;
}

export async function runBudget(args: readonly string[], io: BudgetIo): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        api: { type: 'string' },
        team: { type: 'string' },
        token: { type: 'string' },
        'fail-above': { type: 'string', default: '1' },
        format: { type: 'string', default: 'human' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    io.stderr.write(`tollgate budget: ${(error as Error).message}\n\n${BUDGET_USAGE}\n`);
    return BUDGET_EXIT.USAGE;
  }
  if (values.help === true) {
    io.stdout.write(`${BUDGET_USAGE}\n`);
    return BUDGET_EXIT.OK;
  }
  const token = values.token ?? io.env.TOLLGATE_TOKEN;
  const threshold = parseFraction(values['fail-above']);
  const problem =
    values.api === undefined ? '--api is required'
    : values.team === undefined ? '--team is required'
    : token === undefined || token === '' ? 'a token is required: --token TOKEN or $TOLLGATE_TOKEN'
    : threshold === undefined ? `--fail-above must be a fraction such as 0.9 or a percentage such as 90%, not "${values['fail-above']}"`
    : values.format !== 'human' && values.format !== 'json' ? `unknown format "${values.format}" (expected human or json)`
    : undefined;
  if (problem !== undefined || values.api === undefined || values.team === undefined || token === undefined || threshold === undefined) {
    io.stderr.write(`tollgate budget: ${problem ?? 'invalid arguments'}\n\n${BUDGET_USAGE}\n`);
    return BUDGET_EXIT.USAGE;
  }
  try {
    const line = await teamBudget(io.fetch, values.api, values.team, token);
    const above = line.utilization !== null && line.utilization > threshold;
    if (values.format === 'json') {
      io.stdout.write(`${JSON.stringify({ ...line, fail_above: threshold, passed: !above }, null, 2)}\n`);
    } else {
      const utilization = line.utilization === null ? 'no limit' : `${(line.utilization * 100).toFixed(1)} %`;
      io.stdout.write(
        `team ${line.team}: ${line.usage} active series of ${line.limit ?? 'no limit'} (${utilization}, status ${line.status}${line.asOf ? `, as of ${line.asOf}` : ''})\n` +
          `${above ? `FAILED: above the threshold of ${(threshold * 100).toFixed(1)} %` : `ok: within the threshold of ${(threshold * 100).toFixed(1)} %`}\n`,
      );
    }
    return above ? BUDGET_EXIT.FINDINGS : BUDGET_EXIT.OK;
  } catch (error) {
    if (error instanceof CheckIoError) {
      io.stderr.write(`tollgate budget: ${error.message}\n`);
      return BUDGET_EXIT.ERROR;
    }
    io.stderr.write(`tollgate budget: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return BUDGET_EXIT.ERROR;
  }
}
