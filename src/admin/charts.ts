/**
 * Charts as server-rendered SVG: no script, no CDN, readable as an image. Labels go through `html`
 * (escaped); every number is formatted here.
 */
import { html, raw, type Html } from './html.ts';

export interface Series {
  name: string;
  color: string;
}

const W = 720;
const H = 220;
const PAD = { left: 44, right: 12, top: 12, bottom: 40 };

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** A round maximum for the y axis, so the gridlines fall on readable values. */
function niceMax(max: number): number {
  // Four gridlines: counts below 4 still get whole-number ticks.
  if (max <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 4, 8, 10]) if (max <= m * p) return m * p;
  return 10 * p;
}

function frame(title: string, yMax: number, body: Html, legend: readonly Series[], xLabels: Html): Html {
  const plotH = H - PAD.top - PAD.bottom;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = PAD.top + plotH * (1 - f);
    return html`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#e3e7eb" /><text
        x="${PAD.left - 4}"
        y="${y + 4}"
        text-anchor="end"
        font-size="10"
        fill="#555"
      >
        ${fmt(yMax * f)}
      </text>`;
  });
  return html`<figure class="chart">
    <svg
      viewBox="0 0 ${W} ${H + 18}"
      width="100%"
      role="img"
      aria-label="${title}"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title>${title}</title>
      ${grid} ${body} ${xLabels}
      ${legend.map(
        (s, i) =>
          html`<rect x="${PAD.left + i * 110}" y="${H + 4}" width="10" height="10" fill="${s.color}" /><text
              x="${PAD.left + i * 110 + 14}"
              y="${H + 13}"
              font-size="11"
            >
              ${s.name}
            </text>`,
      )}
    </svg>
    <figcaption>${title}</figcaption>
  </figure>`;
}

/** Stacked bars: one bar per label, one segment per series. */
export function stackedBars(
  title: string,
  labels: readonly string[],
  series: readonly Series[],
  values: readonly (readonly number[])[],
  labelEvery = 1,
): Html {
  const totals = labels.map((_, i) => series.reduce((sum, _s, j) => sum + (values[j]?.[i] ?? 0), 0));
  const yMax = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, labels.length);
  const barW = Math.max(1, step * 0.8);
  const bars = labels.map((label, i) => {
    let y = PAD.top + plotH;
    return series.map((s, j) => {
      const v = values[j]?.[i] ?? 0;
      if (v <= 0) return raw('');
      const h = (v / yMax) * plotH;
      y -= h;
      return html`<rect
        x="${(PAD.left + i * step).toFixed(1)}"
        y="${y.toFixed(1)}"
        width="${barW.toFixed(1)}"
        height="${h.toFixed(1)}"
        fill="${s.color}"
        ><title>${label} · ${s.name}: ${v}</title></rect
      >`;
    });
  });
  const xLabels = axisLabels(labels, labelEvery, (i) => PAD.left + i * step + barW / 2);
  return frame(title, yMax, html`${bars}`, series, html`${xLabels}`);
}

/** The x axis's labels, every `every`th one, centred at `xOf(i)`. */
function axisLabels(labels: readonly string[], every: number, xOf: (i: number) => number) {
  return labels.map((label, i) =>
    i % every === 0
      ? html`<text
          x="${xOf(i).toFixed(1)}"
          y="${H - PAD.bottom + 14}"
          font-size="10"
          text-anchor="middle"
          fill="#555"
          >${label}</text
        >`
      : raw(''),
  );
}

/** Lines over the same x labels; a series value of null leaves a gap. */
export function lines(
  title: string,
  labels: readonly string[],
  series: readonly (Series & { values: readonly (number | null)[]; dashed?: boolean })[],
  labelEvery = 1,
): Html {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const yMax = niceMax(Math.max(0, ...all));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number): number =>
    PAD.left + (labels.length <= 1 ? plotW / 2 : (i / (labels.length - 1)) * plotW);
  const y = (v: number): number => PAD.top + plotH * (1 - v / yMax);
  const paths = series.map((s) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    return d === ''
      ? raw('')
      : html`<path
          d="${d.trim()}"
          fill="none"
          stroke="${s.color}"
          stroke-width="2"
          ${s.dashed ? raw('stroke-dasharray="6 4"') : ''}
        />`;
  });
  const xLabels = axisLabels(labels, labelEvery, x);
  return frame(title, yMax, html`${paths}`, series, html`${xLabels}`);
}
