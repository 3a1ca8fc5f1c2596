// Renders a pipeline report as Markdown (for a pull request) and as one self-contained HTML file
// with inline SVG charts (size vs accuracy of the variants, per-layer quantization error).
import type { PipelineReport, Variant } from '../pipeline/index.js';

const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
const gateValue = (gate: string, v: number): string => (gate === 'maxSizeBytes' ? bytes(v) : gate === 'maxLatencyMs' ? `${v.toFixed(3)} ms` : pct(v));

/** The variants table's columns, shared by the terminal, Markdown and HTML; language models add perplexity and tokens/s. */
export function variantColumns(variants: Variant[]): { header: string; value: (v: Variant) => string; align?: 'right' }[] {
  const cols: { header: string; value: (v: Variant) => string; align?: 'right' }[] = [
    { header: 'variant', value: (v) => v.name },
    { header: 'runtime', value: (v) => v.runtime },
    { header: 'size', value: (v) => bytes(v.bytes), align: 'right' },
    { header: 'gzip', value: (v) => bytes(v.gzipBytes), align: 'right' },
    { header: 'params', value: (v) => v.params.toLocaleString('en-US'), align: 'right' },
    { header: 'sparsity', value: (v) => pct(v.sparsity), align: 'right' },
    { header: 'accuracy', value: (v) => pct(v.accuracy), align: 'right' },
    { header: 'agreement', value: (v) => pct(v.agreement), align: 'right' },
    { header: 'latency', value: (v) => `${v.latencyMs.toFixed(3)} ms`, align: 'right' },
  ];
  if (variants.some((v) => v.perplexity !== undefined))
    cols.push(
      { header: 'perplexity', value: (v) => v.perplexity?.toFixed(3) ?? '—', align: 'right' },
      { header: 'tokens/s', value: (v) => (v.tokensPerSecond === undefined ? '—' : Math.round(v.tokensPerSecond).toLocaleString('en-US')), align: 'right' },
    );
  return cols;
}

export function renderMarkdown(r: PipelineReport): string {
  const cols = variantColumns(r.variants);
  const lines = [
    `## edgelm report: ${r.passed ? '✅ all gates passed' : '❌ a quality gate failed'}`,
    '',
    `Model \`${r.model}\`${r.evalData ? `, evaluated on \`${r.evalData}\` (${r.samples} samples)` : ''}; edgelm ${r.edgelm}.`,
    '',
    `| ${cols.map((c) => c.header).join(' | ')} |`,
    `|${cols.map((c) => (c.align ? '---:' : '---')).join('|')}|`,
    ...r.variants.map((v) => `| ${cols.map((c) => c.value(v)).join(' | ')} |`),
  ];
  if (r.gates.length) {
    lines.push('', '| gate | measured | limit | result |', '|---|---:|---:|---|');
    for (const g of r.gates) lines.push(`| ${g.gate} | ${gateValue(g.gate, g.value)} | ${gateValue(g.gate, g.limit)} | ${g.passed ? 'pass' : '**fail**'} |`);
  }
  const layers = r.variants.find((v) => v.perLayer?.length)?.perLayer;
  if (layers) {
    lines.push('', '<details><summary>Per-layer quantization error</summary>', '', '| layer | op | weights | cosine | SQNR |', '|---|---|---:|---:|---:|');
    for (const l of layers) lines.push(`| ${l.node} | ${l.op} | ${l.params} | ${l.cosine.toFixed(6)} | ${Number.isFinite(l.sqnrDb) ? `${l.sqnrDb.toFixed(1)} dB` : 'exact'} |`);
    lines.push('', '</details>');
  }
  if (r.keptFloat?.length) lines.push('', `Kept in float to meet the accuracy bound: ${r.keptFloat.map((k) => `\`${k.node}\` (SQNR ${k.sqnrDb.toFixed(1)} dB)`).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Size (log scale) against accuracy, one labelled point per variant. */
function sizeAccuracyChart(variants: Variant[]): string {
  const pts = variants.filter((v) => v.accuracy !== undefined);
  const [w, h, m] = [640, 320, 56];
  if (!pts.length) return '';
  const lx = pts.map((v) => Math.log10(Math.max(1, v.bytes)));
  const [x0, x1] = [Math.min(...lx) - 0.1, Math.max(...lx) + 0.1];
  const acc = pts.map((v) => v.accuracy!);
  const [y0, y1] = [Math.max(0, Math.min(...acc) - 0.02), Math.min(1, Math.max(...acc) + 0.01)];
  const sx = (v: number): number => m + ((v - x0) / (x1 - x0 || 1)) * (w - 2 * m);
  const sy = (v: number): number => h - m + -((v - y0) / (y1 - y0 || 1)) * (h - 2 * m);
  const dots = pts
    .map((v, i) => `<circle class="point" cx="${sx(lx[i]!).toFixed(1)}" cy="${sy(v.accuracy!).toFixed(1)}" r="6"><title>${esc(v.name)}: ${bytes(v.bytes)}, ${pct(v.accuracy)}</title></circle><text x="${(sx(lx[i]!) + 9).toFixed(1)}" y="${(sy(v.accuracy!) - 8).toFixed(1)}">${esc(v.name)}</text>`)
    .join('');
  return `<svg id="size-accuracy" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="size versus accuracy">
<line class="axis" x1="${m}" y1="${h - m}" x2="${w - m}" y2="${h - m}"/><line class="axis" x1="${m}" y1="${m}" x2="${m}" y2="${h - m}"/>
<text x="${w / 2}" y="${h - 16}" text-anchor="middle">file size (log scale): ${bytes(10 ** x0 | 0)} – ${bytes(10 ** x1 | 0)}</text>
<text x="16" y="${h / 2}" transform="rotate(-90 16 ${h / 2})" text-anchor="middle">accuracy ${pct(y0)} – ${pct(y1)}</text>${dots}</svg>`;
}

/** SQNR per quantized layer: the lowest bar is the layer that costs the most accuracy. */
function layerErrorChart(variants: Variant[]): string {
  const layers = variants.find((v) => v.perLayer?.length)?.perLayer;
  if (!layers) return '';
  const [w, bh, m] = [640, 26, 160];
  const finite = layers.map((l) => (Number.isFinite(l.sqnrDb) ? l.sqnrDb : 100));
  const max = Math.max(...finite, 1);
  const h = layers.length * bh + 40;
  const bars = layers
    .map((l, i) => `<rect class="bar" x="${m}" y="${10 + i * bh}" width="${((finite[i]! / max) * (w - m - 70)).toFixed(1)}" height="${bh - 8}"><title>${esc(l.node)}: ${finite[i]!.toFixed(1)} dB</title></rect><text x="${m - 8}" y="${10 + i * bh + bh / 2}" text-anchor="end">${esc(l.node)}</text><text x="${(m + (finite[i]! / max) * (w - m - 70) + 6).toFixed(1)}" y="${10 + i * bh + bh / 2}">${finite[i]!.toFixed(1)} dB</text>`)
    .join('');
  return `<svg id="layer-error" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="per-layer SQNR">${bars}<text x="${m}" y="${h - 8}">SQNR of each layer's output when it alone is quantized (higher is better)</text></svg>`;
}

export function renderHtml(r: PipelineReport): string {
  const cols = variantColumns(r.variants);
  const rows = r.variants.map((v) => `<tr>${cols.map((c) => `<td>${esc(c.value(v))}</td>`).join('')}</tr>`).join('\n');
  const gates = r.gates.map((g) => `<tr class="${g.passed ? 'pass' : 'fail'}"><td>${g.gate}</td><td>${gateValue(g.gate, g.value)}</td><td>${gateValue(g.gate, g.limit)}</td><td>${g.passed ? 'pass' : 'FAIL'}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgelm report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:1000px}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.pass td:last-child{color:#1a7f37}.fail td:last-child{color:#cf222e;font-weight:bold}
svg{display:block;margin:1rem 0}svg text{font-size:11px;fill:#1b1f24}.axis{stroke:#57606a}.point{fill:#0969da}.bar{fill:#8250df}
</style></head><body>
<h1>edgelm report: ${r.passed ? 'all gates passed' : 'a quality gate failed'}</h1>
<p>Model <code>${esc(r.model)}</code>${r.evalData ? `, evaluated on <code>${esc(r.evalData)}</code> (${r.samples} samples)` : ''}; edgelm ${r.edgelm}.</p>
<table><thead><tr>${cols.map((c) => `<th>${c.header}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
${gates ? `<h2>Gates</h2><table><thead><tr><th>gate</th><th>measured</th><th>limit</th><th>result</th></tr></thead><tbody>${gates}</tbody></table>` : ''}
<h2>Size and accuracy</h2>
${sizeAccuracyChart(r.variants)}
${layerErrorChart(r.variants) ? `<h2>Per-layer quantization error</h2>${layerErrorChart(r.variants)}` : ''}
<script type="application/json" id="edgelm-report">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
