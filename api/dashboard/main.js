// The dashboard: asks for a token, then shows what the budget API says about the caller's teams.
// Everything it shows is built with textContent and DOM nodes, never innerHTML: metric names,
// label values and rule names come from telemetry and must not become markup.
import { ApiError, enc, getJson } from './api.js';
import { renderChart } from './chart.js';
import { formatAmount, formatAxis, formatBytes, formatCount, formatDateTime, formatPercent, formatTick } from './format.js';

// Session storage: the token lives as long as the tab, is never written to the URL, and is
// not shared with other tabs or left behind when the browser closes.
const TOKEN_KEY = 'tollgate.token';
const HOUR = 3_600_000;
const RANGES = {
  '1h': { ms: HOUR, step: '1m', per: 'per minute', tickEveryMs: HOUR / 4 },
  '24h': { ms: 24 * HOUR, step: '15m', per: 'per 15 minutes', tickEveryMs: 6 * HOUR },
  '7d': { ms: 7 * 24 * HOUR, step: '1h', per: 'per hour', tickEveryMs: 24 * HOUR },
};
const SIGNALS = [
  { name: 'metrics', items: 'data points' },
  { name: 'traces', items: 'spans' },
  { name: 'logs', items: 'log records' },
];
const USAGE_SERIES = [
  { key: 'items_in', label: 'received' },
  { key: 'passed', label: 'passed' },
  { key: 'dropped', label: 'dropped' },
  { key: 'overflowed', label: 'overflowed' },
];
const TOP_METRICS = 10;
const METRICS_WITH_LABELS = 5;
const TOP_LABELS = 3;
const VIOLATIONS_PAGE = 20;

const state = {
  token: null,
  teams: [],
  team: null,
  range: '24h',
  /** Server clock minus browser clock: ranges end at the server's "now", as its data does. */
  skewMs: 0,
  /** Bumped by every load, so answers of an earlier load never overwrite a newer one. */
  generation: 0,
  /** Bumped by every usage load: a range change reloads the charts within one generation. */
  usageGeneration: 0,
  nextViolations: null,
};

const byId = (id) => document.getElementById(id);

/** An element with attributes (`text`: its text, `class`: its class) and children. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function table(caption, headers, rows, className = '') {
  return el(
    'table',
    { class: className },
    el('caption', { class: 'visually-hidden', text: caption }),
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows),
  );
}

const note = (text, className = 'empty') => el('p', { class: className, text });

function errorNote(error) {
  const code = error instanceof ApiError ? error.code : 'error';
  return el('p', { class: 'error', role: 'alert' }, el('strong', { text: code }), `: ${error instanceof Error ? error.message : String(error)}`);
}

function statusBadge(status) {
  return el('span', { class: `status status-${status}`, text: status });
}

/** A horizontal bar for a ratio (capped at full width) with the percentage beside it. */
function utilization(ratio, status, label) {
  if (ratio === null || ratio === undefined) return el('span', { class: 'no-limit', text: 'no limit' });
  const fill = el('span', { class: 'fill' });
  fill.style.width = `${Math.min(100, Math.max(0, ratio * 100))}%`;
  const bar = el(
    'span',
    { class: `bar bar-${status}`, role: 'meter', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(ratio * 1000) / 10, 'aria-valuetext': formatPercent(ratio) },
    fill,
  );
  return el('span', { class: 'utilization' }, bar, el('span', { class: 'percent', text: formatPercent(ratio) }));
}

// ─── Token and screens ───────────────────────────────────────────────────────────────────────

function showLogin(message) {
  state.generation++;
  byId('board').hidden = true;
  byId('session').hidden = true;
  byId('login').hidden = false;
  const alert = byId('login-message');
  alert.hidden = !message;
  alert.textContent = message ?? '';
  byId('token').value = '';
  byId('token').focus();
}

/** A 401 anywhere: the stored token is no good, so forget it and ask again. */
function unauthorized(error) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  showLogin(`The token was not accepted (${error.code}: ${error.message}). Paste a valid token.`);
}

/** Renders a failed section: a 401 goes back to the token form, anything else is shown in place. */
function failed(error, container, generation) {
  if (generation !== state.generation) return;
  if (error instanceof ApiError && error.status === 401) unauthorized(error);
  else container.replaceChildren(errorNote(error));
}

const api = (path) => getJson(path, state.token);
const serverNow = () => Date.now() + state.skewMs;

// ─── Teams ───────────────────────────────────────────────────────────────────────────────────

async function loadTeams() {
  const generation = ++state.generation;
  byId('login').hidden = true;
  byId('board').hidden = false;
  byId('session').hidden = false;
  const container = byId('teams');
  container.replaceChildren(note('Loading…', 'loading'));
  let answer;
  try {
    answer = await api('api/v1/teams');
  } catch (error) {
    failed(error, container, generation);
    return;
  }
  if (generation !== state.generation) return;
  state.teams = answer.teams;
  const asOf = Date.parse(answer.teams[0]?.as_of ?? '');
  state.skewMs = Number.isFinite(asOf) ? asOf - Date.now() : 0;
  byId('who').textContent = `This token sees ${formatCount(state.teams.length)} team${state.teams.length === 1 ? '' : 's'}.`;
  if (state.teams.length === 0) {
    container.replaceChildren(note('This token sees no team: no team in the rules matches it.'));
    byId('team-details').hidden = true;
    return;
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get('team');
  state.team = state.teams.some((t) => t.name === wanted) ? wanted : state.teams[0].name;
  renderTeams();
  await loadTeam();
}

function renderTeams() {
  const rows = state.teams.map((team) => {
    const selected = team.name === state.team;
    const pick = el('button', { type: 'button', class: 'link', 'aria-pressed': selected ? 'true' : 'false', 'data-team': team.name, text: team.name });
    pick.addEventListener('click', () => selectTeam(team.name));
    return el(
      'tr',
      { class: selected ? 'selected' : undefined, 'data-team': team.name },
      el('th', { scope: 'row' }, pick),
      el('td', { text: team.tier }),
      el('td', {}, statusBadge(team.status)),
      el('td', {}, utilization(team.utilization, team.status, `${team.name}: highest utilization`)),
    );
  });
  byId('teams').replaceChildren(table('Teams visible to this token', ['Team', 'Tier', 'Status', 'Highest utilization'], rows, 'teams'));
}

function selectTeam(name) {
  if (name === state.team) return;
  state.team = name;
  history.replaceState(null, '', `#team=${enc(name)}`);
  renderTeams();
  void loadTeam();
}

// ─── One team ────────────────────────────────────────────────────────────────────────────────

async function loadTeam() {
  const generation = ++state.generation;
  const team = state.team;
  byId('team-details').hidden = false;
  for (const id of ['budget-team', 'usage-team', 'cardinality-team', 'violations-team']) byId(id).textContent = team;
  await Promise.all([loadBudget(team, generation), loadUsage(team, generation), loadCardinality(team, generation), loadViolations(team, generation, null)]);
}

/**
 * Runs one section's requests and renders them, or renders the failure in the section;
 * `fresh` tells whether a newer load of this section alone has started since.
 */
async function section(container, generation, fetchAll, render, fresh = () => true) {
  container.replaceChildren(note('Loading…', 'loading'));
  try {
    const data = await fetchAll();
    if (generation === state.generation && fresh()) render(data);
  } catch (error) {
    if (fresh()) failed(error, container, generation);
  }
}

const BUDGET_LINES = [
  { name: 'Active series', pick: (b) => b.signals.metrics },
  { name: 'Spans per second', pick: (b) => b.signals.traces },
  { name: 'Log records per second', pick: (b) => b.signals.logs },
  { name: 'Bytes per day', pick: (b) => b.bytes },
];

function howCounted(line) {
  const method = line.count_method.replace(/_/g, ' ');
  return line.window ? `${method} over ${line.window}` : method;
}

function loadBudget(team, generation) {
  const container = byId('budget');
  return section(
    container,
    generation,
    () => api(`api/v1/teams/${enc(team)}/budget`),
    (budget) => {
      const rows = BUDGET_LINES.map(({ name, pick }) => {
        const line = pick(budget);
        return el(
          'tr',
          {},
          el('th', { scope: 'row', text: name }),
          el('td', { class: 'number', text: formatAmount(line.usage, line.unit) }),
          el('td', { class: 'number', text: line.limit === null ? '—' : formatAmount(line.limit, line.unit) }),
          el('td', {}, utilization(line.utilization, line.status, `${name}: utilization`)),
          el('td', {}, statusBadge(line.status)),
          el('td', { text: howCounted(line) }),
        );
      });
      const metrics = budget.signals.metrics;
      let forecast = null;
      if (metrics.limit !== null) {
        const at = metrics.forecast_exhausted_at;
        forecast = note(at === null ? 'Active series are not growing: no exhaustion forecast.' : `At the current growth the series budget is reached ${formatDateTime(at)}.`, 'forecast');
      }
      container.replaceChildren(table(`Budget of ${team}`, ['Budget', 'Usage', 'Limit', 'Utilization', 'Status', 'Counted as'], rows, 'budget'), forecast, note(`As of ${formatDateTime(budget.as_of)}.`, 'as-of'));
    },
  );
}

function usageChart(answer, signal, range) {
  const points = answer.points;
  const series = USAGE_SERIES.filter((s) => s.key !== 'overflowed' || signal.name === 'metrics').map((s) => ({ ...s, values: points.map((p) => p[s.key]) }));
  const totals = series.map((s) => ({ ...s, total: s.values.reduce((a, b) => a + b, 0) }));
  const title = `${signal.name}: ${signal.items} ${RANGES[range].per}`;
  const figure = el('figure', { class: 'usage', 'data-signal': signal.name }, el('figcaption', {}, el('h3', { text: signal.name }), el('span', { class: 'per', text: `${signal.items} ${RANGES[range].per}` })));
  if (totals[0].total === 0) {
    figure.append(note(`No ${signal.items} recorded in this range.`));
    return figure;
  }
  const summary = totals.map((s) => `${formatCount(s.total)} ${s.label}`).join(', ');
  figure.append(
    renderChart({
      title,
      description: `In this range: ${summary}; ${formatBytes(points.reduce((a, p) => a + p.bytes, 0))} received.`,
      times: points.map((p) => Date.parse(p.start)),
      series,
      tickEveryMs: RANGES[range].tickEveryMs,
      formatValue: formatAxis,
      formatTick: (t) => formatTick(t, RANGES[range].ms),
    }),
    el('ul', { class: 'legend' }, ...totals.map((s) => el('li', { class: `key-${s.key}` }, el('span', { class: 'swatch', 'aria-hidden': 'true' }), `${s.label}: ${formatCount(s.total)}`))),
  );
  return figure;
}

function loadUsage(team, generation) {
  const range = state.range;
  const { ms, step } = RANGES[range];
  // Whole minutes: the current minute is still filling up.
  const to = Math.floor(serverNow() / 60_000) * 60_000;
  const from = to - ms;
  const usageGeneration = ++state.usageGeneration;
  return section(
    byId('charts'),
    generation,
    () => Promise.all(SIGNALS.map((signal) => api(`api/v1/teams/${enc(team)}/usage?signal=${signal.name}&from=${from}&to=${to}&step=${step}`))),
    (answers) => byId('charts').replaceChildren(...answers.map((answer, i) => usageChart(answer, SIGNALS[i], range))),
    () => usageGeneration === state.usageGeneration,
  );
}

function labelList(labels) {
  if (labels.length === 0) return note('no label estimates');
  return el('ul', { class: 'labels' }, ...labels.map((l) => el('li', {}, el('code', { text: l.label }), ` ${formatCount(l.distinct_values)}`)));
}

function loadCardinality(team, generation) {
  return section(
    byId('cardinality'),
    generation,
    async () => {
      const top = await api(`api/v1/teams/${enc(team)}/cardinality?limit=${TOP_METRICS}`);
      const labels = await Promise.all(
        top.metrics.slice(0, METRICS_WITH_LABELS).map((m) => api(`api/v1/teams/${enc(team)}/cardinality?metric=${enc(m.metric)}&limit=${TOP_LABELS}`)),
      );
      return { top, labels };
    },
    ({ top, labels }) => {
      if (top.metrics.length === 0) {
        byId('cardinality').replaceChildren(note('No metric series recorded for this team yet.'));
        return;
      }
      const largest = top.metrics[0].active_series;
      const rows = top.metrics.map((m, i) =>
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, el('code', { text: m.metric })),
          el('td', { class: 'number', text: formatCount(m.active_series) }),
          el('td', {}, utilization(largest > 0 ? m.active_series / largest : 0, 'ok', `${m.metric}: share of the largest metric`)),
          el('td', {}, i < labels.length ? labelList(labels[i].labels) : el('span', { class: 'muted', text: '—' })),
        ),
      );
      byId('cardinality').replaceChildren(
        table(`Top metrics of ${team} by active series`, ['Metric', 'Active series', 'Relative to the largest', 'Labels by distinct values'], rows, 'cardinality'),
        note(`Label estimates are shown for the ${METRICS_WITH_LABELS} largest metrics; a label with many distinct values is the one that explodes.`, 'hint'),
      );
    },
  );
}

function sampleText(samples) {
  const first = samples[0];
  if (!first) return '—';
  return Object.entries(first)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function violationRow(v) {
  return el(
    'tr',
    {},
    el('td', {}, el('time', { datetime: v.minute, text: formatDateTime(v.minute) })),
    el('th', { scope: 'row' }, el('code', { text: v.metric })),
    el('td', { text: v.rule }),
    el('td', { text: v.action }),
    el('td', { class: 'number', text: formatCount(v.count) }),
    el('td', { class: 'sample', text: sampleText(v.samples) }),
  );
}

function loadViolations(team, generation, cursor) {
  const container = byId('violations');
  const path = `api/v1/teams/${enc(team)}/violations?limit=${VIOLATIONS_PAGE}${cursor ? `&cursor=${enc(cursor)}` : ''}`;
  const more = byId('violations-more');
  if (cursor) {
    // Older rows go below the ones shown; a failure is shown without losing them.
    more.disabled = true;
    return api(path).then(
      (page) => {
        if (generation !== state.generation) return;
        container.querySelector('tbody')?.append(...page.items.map(violationRow));
        state.nextViolations = page.next_cursor;
        more.hidden = page.next_cursor === null;
        more.disabled = false;
      },
      (error) => {
        more.disabled = false;
        if (error instanceof ApiError && error.status === 401) unauthorized(error);
        else container.append(errorNote(error));
      },
    );
  }
  more.hidden = true;
  return section(
    container,
    generation,
    () => api(path),
    (page) => {
      state.nextViolations = page.next_cursor;
      more.hidden = page.next_cursor === null;
      if (page.items.length === 0) {
        container.replaceChildren(note('No violations recorded: nothing was dropped or folded for this team.'));
        return;
      }
      container.replaceChildren(table(`Violations of ${team}, newest first`, ['Minute', 'Metric', 'Rule', 'Action', 'Count', 'Sample labels'], page.items.map(violationRow), 'violations'));
    },
  );
}

// ─── Wiring ──────────────────────────────────────────────────────────────────────────────────

function start() {
  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = byId('token').value.trim();
    if (token === '') return;
    sessionStorage.setItem(TOKEN_KEY, token);
    state.token = token;
    void loadTeams();
  });
  byId('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    showLogin('The token was removed from this tab.');
  });
  byId('refresh').addEventListener('click', () => void loadTeams());
  for (const input of document.querySelectorAll('input[name="range"]')) {
    input.addEventListener('change', () => {
      state.range = input.value;
      void loadUsage(state.team, state.generation);
    });
  }
  byId('violations-more').addEventListener('click', () => {
    if (state.nextViolations) void loadViolations(state.team, state.generation, state.nextViolations);
  });
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (state.token) void loadTeams();
  else showLogin();
}

start();
