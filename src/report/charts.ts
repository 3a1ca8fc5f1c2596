// The HTML report's inline SVG charts, laid out so that no label can collide or leave its chart:
// variant names go in a legend or a label column as wide as the longest name, margins are sized to
// the labels they hold, and a tick label too close to the previous one is dropped (its gridline
// stays). test/report/html.test.ts measures every label in Chromium.
import type { Variant } from '../pipeline/index.js';
import type { LayerError } from '../quantize/layer-error.js';
import { bytes, esc, ms, pct } from './format.js';

const WIDTH = 720;
const FONT_PX = 11;
/** An upper bound of one character's advance at FONT_PX: DejaVu Sans, the widest common sans-serif, is 0.64 em for digits. */
const CHAR_PX = 0.68 * FONT_PX;
/** Labels in a label column are cut at this many characters (the bars need the room). */
const LONGEST_LABEL = 60;
/** Room between the plot frame and the outermost ticks, so that a point on a tick is drawn whole. */
const INSET = 10;
const textWidth = (s: string): number => s.length * CHAR_PX;
const clipLabel = (s: string, chars = LONGEST_LABEL): string => (s.length > chars ? `${s.slice(0, chars - 1)}…` : s);
const f1 = (v: number): string => v.toFixed(1);

const PALETTE = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bc4c00', '#0a7d8c', '#bf3989', '#57606a'];
const RUNTIME_COLOURS: Record<string, string> = { tfjs: '#bc4c00', litert: '#1a7f37', onnxruntime: '#0969da' };
const runtimeColour = (runtime: string): string => RUNTIME_COLOURS[runtime] ?? '#57606a';

export interface Ticks {
  min: number;
  max: number;
  ticks: number[];
}

/** About `count` ticks at multiples of 1, 2 or 5 × 10^k covering [lo, hi]; the domain is widened to the outer ticks. */
export function linearTicks(lo: number, hi: number, count = 5): Ticks {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.01 || 0.01;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9))!;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
  return { min: ticks[0]!, max: ticks[ticks.length - 1]!, ticks };
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
/** 1, 2, 5, 10, 20, 50, 100, 200, 500 of each binary unit: sizes a person reads without arithmetic. */
const BYTE_TICKS = BYTE_UNITS.flatMap((_, u) => [1, 2, 5, 10, 20, 50, 100, 200, 500].map((m) => m * 1024 ** u));

export function byteTickLabel(t: number): string {
  const u = Math.min(BYTE_UNITS.length - 1, Math.floor(Math.log(t) / Math.log(1024) + 1e-9));
  return `${Number((t / 1024 ** u).toPrecision(6))} ${BYTE_UNITS[u]}`;
}

/** Log-scale ticks for sizes in bytes, from the largest tick at or below `lo` to the smallest at or above `hi`. */
export function byteTicks(lo: number, hi: number): Ticks {
  let a = Math.max(0, BYTE_TICKS.findLastIndex((t) => t <= lo));
  let b = BYTE_TICKS.findIndex((t) => t >= hi);
  if (b < 0) b = BYTE_TICKS.length - 1;
  if (a === b) [a, b] = [Math.max(0, a - 1), Math.min(BYTE_TICKS.length - 1, b + 1)];
  const ticks = BYTE_TICKS.slice(a, b + 1);
  return { min: ticks[0]!, max: ticks[ticks.length - 1]!, ticks };
}

/** Which ticks get a label: each one at least `gap` px past the previous label along the axis. */
function spaced(ticks: number[], at: (v: number) => number, extent: (v: number) => number, gap = 8): number[] {
  const kept: number[] = [];
  let end = -Infinity;
  for (const t of ticks) {
    const p = at(t);
    const half = extent(t) / 2;
    if (p - half < end + gap) continue;
    kept.push(t);
    end = p + half;
  }
  return kept;
}

const text = (x: number, y: number, s: string, attrs = ''): string => `<text x="${f1(x)}" y="${f1(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
/** The x of a centred label near `centre`, moved inwards where it would leave the chart. */
const inside = (centre: number, s: string): number => Math.min(Math.max(centre, 8 + textWidth(s) / 2), WIDTH - 8 - textWidth(s) / 2);
const line = (x1: number, y1: number, x2: number, y2: number, cls: string): string => `<line class="${cls}" x1="${f1(x1)}" y1="${f1(y1)}" x2="${f1(x2)}" y2="${f1(y2)}"/>`;
const svg = (id: string, label: string, height: number, body: string): string =>
  `<svg id="${id}" viewBox="0 0 ${WIDTH} ${Math.ceil(height)}" width="${WIDTH}" height="${Math.ceil(height)}" role="img" aria-label="${esc(label)}">\n${body}\n</svg>`;

interface KeyItem {
  label: string;
  /** The marker drawn before the label, at (x, y) its centre. */
  marker: (x: number, y: number) => string;
}

/** A one-line key of markers and labels from `x`, wrapped onto a new line where the next would not fit. */
function key(items: KeyItem[], x0: number, y0: number): { svg: string; height: number } {
  let [x, y] = [x0, y0];
  const parts: string[] = [];
  for (const item of items) {
    const w = 18 + textWidth(item.label) + 18;
    if (x + w > WIDTH - 8 && x > x0) [x, y] = [x0, y + 18];
    parts.push(item.marker(x + 6, y - 4), text(x + 16, y, item.label));
    x += w;
  }
  return { svg: parts.join(''), height: y - y0 + 18 };
}

/** Accuracy against file size (log scale): a filled dot at the raw size and a ring at the gzip size, one colour per variant. */
export function sizeAccuracyChart(variants: Variant[]): string {
  const pts = variants.filter((v) => v.accuracy !== undefined);
  if (!pts.length) return '';
  const sizes = pts.flatMap((v) => [v.bytes, v.gzipBytes]).map((b) => Math.max(1, b));
  const x = byteTicks(Math.min(...sizes), Math.max(...sizes));
  const y = linearTicks(Math.min(...pts.map((v) => v.accuracy!)), Math.max(...pts.map((v) => v.accuracy!)));
  const yLabel = (v: number): string => `${(100 * v).toFixed(y.ticks.length > 1 && (y.ticks[1]! - y.ticks[0]!) * 100 < 1 ? 1 : 0)}%`;
  const ml = 28 + Math.max(...y.ticks.map((t) => textWidth(yLabel(t)))) + 8;
  const mr = Math.max(12, textWidth(byteTickLabel(x.max)) / 2 - INSET + 4);
  const [mt, plotH] = [34, 240];
  const bottom = mt + plotH;
  const sx = (v: number): number => ml + INSET + ((Math.log(v) - Math.log(x.min)) / (Math.log(x.max) - Math.log(x.min))) * (WIDTH - ml - mr - 2 * INSET);
  const sy = (v: number): number => mt + INSET + (1 - (v - y.min) / (y.max - y.min)) * (plotH - 2 * INSET);
  const parts: string[] = [];
  for (const t of x.ticks) parts.push(line(sx(t), mt, sx(t), bottom, 'grid'));
  for (const t of y.ticks) parts.push(line(ml, sy(t), WIDTH - mr, sy(t), 'grid'));
  parts.push(`<rect class="frame" x="${f1(ml)}" y="${mt}" width="${f1(WIDTH - ml - mr)}" height="${plotH}"/>`);
  for (const t of spaced(x.ticks, sx, (v) => textWidth(byteTickLabel(v)))) parts.push(text(sx(t), bottom + 20, byteTickLabel(t), 'text-anchor="middle"'));
  for (const t of spaced([...y.ticks].reverse(), sy, () => FONT_PX)) parts.push(text(ml - 6, sy(t) + 4, yLabel(t), 'text-anchor="end"'));
  parts.push(text(inside((ml + WIDTH - mr) / 2, 'file size (log scale)'), bottom + 40, 'file size (log scale)', 'text-anchor="middle" class="title"'));
  parts.push(text(14, mt + plotH / 2, 'accuracy', `text-anchor="middle" class="title" transform="rotate(-90 14 ${mt + plotH / 2})"`));
  const legendKey = key([
    { label: 'file size', marker: (cx, cy) => `<circle cx="${cx}" cy="${cy}" r="5" fill="#57606a"/>` },
    { label: 'gzip -9 size (shows pruning)', marker: (cx, cy) => `<circle cx="${cx}" cy="${cy}" r="4" fill="#fff" stroke="#57606a" stroke-width="2"/>` },
  ], ml, 18);
  parts.push(legendKey.svg);
  const legend: string[] = [];
  pts.forEach((v, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const [cx, gx, cy] = [sx(Math.max(1, v.bytes)), sx(Math.max(1, v.gzipBytes)), sy(v.accuracy!)];
    const tip = `<title>${esc(v.name)}: ${bytes(v.bytes)} (gzip ${bytes(v.gzipBytes)}), ${pct(v.accuracy)}</title>`;
    parts.push(`<line class="link" x1="${f1(gx)}" y1="${f1(cy)}" x2="${f1(cx)}" y2="${f1(cy)}" stroke="${colour}"/>`);
    parts.push(`<circle class="point" cx="${f1(cx)}" cy="${f1(cy)}" r="6" fill="${colour}">${tip}</circle>`);
    parts.push(`<circle class="point gzip" cx="${f1(gx)}" cy="${f1(cy)}" r="4.5" fill="#fff" stroke="${colour}" stroke-width="2">${tip}</circle>`);
    const ly = bottom + 66 + i * 18;
    legend.push(`<circle cx="${ml + 6}" cy="${ly - 4}" r="5" fill="${colour}"/>`, text(ml + 16, ly, clipLabel(`${v.name}: ${bytes(v.bytes)}, gzip ${bytes(v.gzipBytes)}, ${pct(v.accuracy)}`, Math.floor((WIDTH - ml - 24) / CHAR_PX)), 'class="legend"'));
  });
  parts.push(...legend);
  return svg('size-accuracy', 'accuracy versus file size', bottom + 66 + (pts.length - 1) * 18 + 10, parts.join('\n'));
}

interface Bar {
  label: string;
  value: number;
  valueLabel: string;
  colour: string;
  tip: string;
  /** A reference value drawn as a tick across the bar (the float export's latency). */
  marker?: number;
}

/** Horizontal bars with a label column as wide as the longest label, value labels past the bar ends, ticks and gridlines. */
function barChart(id: string, aria: string, bars: Bar[], axisTitle: string, tickLabel: (v: number) => string, keyItems: KeyItem[]): string {
  const labels = bars.map((b) => clipLabel(b.label));
  const ml = 16 + Math.max(...labels.map(textWidth));
  const x = linearTicks(0, Math.max(...bars.flatMap((b) => [b.value, b.marker ?? 0])) || 1);
  const mr = 12 + Math.max(textWidth(tickLabel(x.max)) / 2, ...bars.map((b) => 6 + textWidth(b.valueLabel)));
  const keyed = keyItems.length ? key(keyItems, ml, 16) : { svg: '', height: 0 };
  const [mt, row] = [10 + keyed.height, 24];
  const bottom = mt + bars.length * row;
  const sx = (v: number): number => ml + (v / x.max) * (WIDTH - ml - mr);
  const parts: string[] = [keyed.svg];
  for (const t of x.ticks) parts.push(line(sx(t), mt, sx(t), bottom, 'grid'));
  parts.push(line(ml, mt, ml, bottom, 'axis'), line(ml, bottom, WIDTH - mr, bottom, 'axis'));
  for (const t of spaced(x.ticks, sx, (v) => textWidth(tickLabel(v)))) parts.push(text(sx(t), bottom + 16, tickLabel(t), 'text-anchor="middle"'));
  parts.push(text(inside((ml + WIDTH - mr) / 2, axisTitle), bottom + 34, axisTitle, 'text-anchor="middle" class="title"'));
  bars.forEach((b, i) => {
    const top = mt + i * row + 3;
    const mid = top + (row - 6) / 2;
    parts.push(text(ml - 8, mid + 4, labels[i]!, 'text-anchor="end"'));
    parts.push(`<rect class="bar" x="${f1(ml)}" y="${top}" width="${f1(Math.max(0.5, sx(b.value) - ml))}" height="${row - 6}" fill="${b.colour}"><title>${esc(b.tip)}</title></rect>`);
    if (b.marker !== undefined) parts.push(`<line class="marker" x1="${f1(sx(b.marker))}" y1="${top - 2}" x2="${f1(sx(b.marker))}" y2="${top + row - 4}"><title>${esc(b.tip)}</title></line>`);
    parts.push(text(sx(Math.max(b.value, b.marker ?? 0)) + 6, mid + 4, b.valueLabel));
  });
  return svg(id, aria, bottom + 44, parts.join('\n'));
}

/** Median single-sample latency of each variant in its runtime, the float export's as a tick where the variant is quantized. */
export function latencyChart(variants: Variant[]): string {
  if (!variants.length) return '';
  const runtimes = [...new Set(variants.map((v) => v.runtime))];
  const keyItems: KeyItem[] = runtimes.map((r) => ({ label: r, marker: (cx, cy) => `<rect x="${cx - 5}" y="${cy - 5}" width="10" height="10" fill="${runtimeColour(r)}"/>` }));
  if (variants.some((v) => v.floatLatencyMs !== undefined)) keyItems.push({ label: 'float export, same runtime', marker: (cx, cy) => `<line class="marker" x1="${cx}" y1="${cy - 7}" x2="${cx}" y2="${cy + 7}"/>` });
  const bars = variants.map((v): Bar => ({
    label: v.name,
    value: v.latencyMs,
    valueLabel: ms(v.latencyMs),
    colour: runtimeColour(v.runtime),
    tip: `${v.name} in ${v.runtime}: ${ms(v.latencyMs)}${v.floatLatencyMs !== undefined ? `; float export ${ms(v.floatLatencyMs)}` : ''}`,
    ...(v.floatLatencyMs !== undefined ? { marker: v.floatLatencyMs } : {}),
  }));
  const step = linearTicks(0, Math.max(...bars.flatMap((b) => [b.value, b.marker ?? 0])) || 1);
  const digits = Math.max(0, -Math.floor(Math.log10(step.ticks[1]! - step.ticks[0]!) + 1e-9));
  return barChart('latency', 'median latency per variant', bars, 'median latency of one sample, in its runtime (ms; shorter is faster)', (v) => v.toFixed(digits), keyItems);
}

/** SQNR per quantized layer: the shortest bar is the layer that costs the most accuracy. */
export function layerErrorChart(layers: LayerError[] | undefined): string {
  if (!layers?.length) return '';
  const finite = layers.map((l) => l.sqnrDb).filter(Number.isFinite);
  const exact = Math.max(0, ...finite) || 100; // an exact layer is drawn as long as the best measured one
  const bars = layers.map((l): Bar => {
    const value = Number.isFinite(l.sqnrDb) ? l.sqnrDb : exact;
    const valueLabel = Number.isFinite(l.sqnrDb) ? `${l.sqnrDb.toFixed(1)} dB` : 'exact';
    return { label: l.node, value, valueLabel, colour: l.outlier ? '#cf222e' : '#8250df', tip: `${l.node} (${l.op}): ${valueLabel}, cosine ${l.cosine.toFixed(6)}${l.outlier ? ', an outlier: far below the other layers' : ''}` };
  });
  return barChart('layer-error', 'per-layer SQNR', bars, "SQNR of each layer's output when it alone is quantized (dB; longer is better)", (v) => String(v), []);
}
