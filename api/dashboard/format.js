// Numbers and times as the reader expects them: the browser's locale, grouped digits, and a unit
// on every figure so nobody has to guess whether 5 means series, spans per second or bytes.

const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** Counts: whole numbers grouped (12,345); small fractional rates keep one decimal (2.5). */
export function formatCount(value) {
  return Number.isInteger(value) || Math.abs(value) >= 100 ? whole.format(value) : oneDecimal.format(value);
}

/** An axis label: short (25K, 1.5M). */
export function formatAxis(value) {
  return compact.format(value);
}

/** A ratio as a percentage with one decimal (0.85 → 85.0%); an em dash when there is no limit. */
export function formatPercent(ratio) {
  return ratio === null || ratio === undefined ? '—' : percent.format(ratio);
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal byte units, as budgets such as `max_bytes_per_day: 1MB` are usually written. */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? whole.format(value) : oneDecimal.format(value)} ${BYTE_UNITS[unit]}`;
}

const UNIT_TEXT = {
  series: 'series',
  spans_per_second: 'spans/s',
  log_records_per_second: 'log records/s',
};

/** A budget figure with its unit, as the API names it. */
export function formatAmount(value, unit) {
  if (unit === 'bytes_per_day') return `${formatBytes(value)}/day`;
  return `${formatCount(value)} ${UNIT_TEXT[unit] ?? unit}`;
}

/** An RFC 3339 time from the API (or epoch milliseconds) as a date and time. */
export function formatDateTime(time) {
  return dateTime.format(new Date(time));
}

/** An axis label: the time of day for short ranges, the day for long ones. */
export function formatTick(time, rangeMs) {
  return rangeMs > 2 * 86_400_000 ? day.format(new Date(time)) : clock.format(new Date(time));
}
