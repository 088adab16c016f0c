// A line chart drawn as inline SVG: no library, and nothing inline that the content security
// policy would refuse (geometry goes into SVG attributes, colours come from dashboard.css).

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 400;
const HEIGHT = 180;
const BOX = { left: 44, top: 8, width: WIDTH - 44 - 8, height: HEIGHT - 8 - 22 };
let chartCount = 0;

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value`, so the y axis ends on a readable number. */
export function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (value <= m * power * (1 + 1e-9)) return m * power;
  return 10 * power;
}

/**
 * Where everything goes, in viewBox units: one polyline per series (one vertex per time), y
 * ticks at 0, half and the top, and x ticks at the times that are whole multiples of `tickEveryMs`.
 */
export function chartGeometry(times, series, tickEveryMs, box = BOX) {
  const n = times.length;
  const max = niceCeiling(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i) => box.left + (n <= 1 ? box.width / 2 : (i * box.width) / (n - 1));
  const y = (v) => box.top + box.height - (v / max) * box.height;
  return {
    max,
    lines: series.map((s) => ({ key: s.key, label: s.label, points: s.values.map((v, i) => [x(i), y(v)]) })),
    yTicks: [0, max / 2, max].map((value) => ({ value, y: y(value) })),
    xTicks: times.flatMap((time, i) => (time % tickEveryMs === 0 ? [{ time, x: x(i) }] : [])),
  };
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

const round = (v) => Math.round(v * 10) / 10;

/**
 * The chart element. `description` is read by screen readers in place of the drawing;
 * `formatValue` and `formatTick` label the axes.
 */
export function renderChart({ title, description, times, series, tickEveryMs, formatValue, formatTick }) {
  const geometry = chartGeometry(times, series, tickEveryMs);
  const id = `chart-${++chartCount}`;
  const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-labelledby': `${id}-title ${id}-desc` });
  const titleNode = svg('title', { id: `${id}-title` });
  titleNode.textContent = title;
  const descNode = svg('desc', { id: `${id}-desc` });
  descNode.textContent = description;
  root.append(titleNode, descNode);

  const axes = svg('g', { class: 'axes', 'aria-hidden': 'true' });
  for (const tick of geometry.yTicks) {
    axes.append(svg('line', { x1: BOX.left, x2: BOX.left + BOX.width, y1: round(tick.y), y2: round(tick.y), class: tick.value === 0 ? 'baseline' : 'grid' }));
    const label = svg('text', { x: BOX.left - 6, y: round(tick.y) + 4, class: 'y-label' });
    label.textContent = formatValue(tick.value);
    axes.append(label);
  }
  for (const tick of geometry.xTicks) {
    // Labels at the edges are anchored inwards so they are not cut off.
    const anchor = tick.x < BOX.left + 20 ? 'start' : tick.x > BOX.left + BOX.width - 20 ? 'end' : 'middle';
    const label = svg('text', { x: round(tick.x), y: HEIGHT - 6, class: 'x-label', 'text-anchor': anchor });
    label.textContent = formatTick(tick.time);
    axes.append(label);
  }
  root.append(axes);

  for (const line of geometry.lines) {
    root.append(
      svg('polyline', {
        class: `line line-${line.key}`,
        'data-series': line.key,
        points: line.points.map(([px, py]) => `${round(px)},${round(py)}`).join(' '),
      }),
    );
  }
  return root;
}
