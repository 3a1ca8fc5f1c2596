// Renders a pipeline report as Markdown (for a pull request) and as one self-contained HTML file
// with inline SVG charts (size vs accuracy, latency, per-layer quantization error).
import type { PipelineReport, Variant } from '../pipeline/index.js';
import { latencyChart, layerErrorChart, sizeAccuracyChart } from './charts.js';
import { bytes, esc, ms, pct } from './format.js';
import type { Provenance } from './provenance.js';

export { bytes } from './format.js';

// Gates in nats or perplexity points print as numbers, the others as sizes, times or percentages.
const gateValue = (gate: string, v: number): string => (gate === 'maxSizeBytes' ? bytes(v) : gate === 'maxLatencyMs' ? ms(v) : gate === 'maxKld' || gate === 'maxPerplexityIncrease' ? v.toPrecision(4) : pct(v));

/** One line on how the report was made: when, by what command, which versions, on what machine. */
export function provenanceLine(m: Provenance): string {
  const runtimes = Object.entries(m.runtimes).map(([pkg, v]) => `${pkg} ${v}`).join(', ');
  const gib = (m.machine.memoryBytes / 1024 ** 3).toFixed(0);
  return `Made ${m.createdAt}${m.command ? ` by \`${m.command}\`` : ''} with edgelm ${m.edgelm} (Node ${m.node}; ${runtimes}) on ${m.machine.cpu}, ${m.machine.cores} cores, ${gib} GiB, ${m.machine.platform}/${m.machine.arch}.`;
}

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
    { header: 'latency', value: (v) => ms(v.latencyMs), align: 'right' },
  ];
  if (variants.some((v) => v.floatLatencyMs !== undefined))
    cols.push({ header: 'float latency', value: (v) => (v.floatLatencyMs === undefined ? '—' : ms(v.floatLatencyMs)), align: 'right' });
  if (variants.some((v) => v.perplexity !== undefined))
    cols.push(
      { header: 'perplexity', value: (v) => v.perplexity?.toFixed(3) ?? '—', align: 'right' },
      { header: 'tokens/s', value: (v) => (v.tokensPerSecond === undefined ? '—' : Math.round(v.tokensPerSecond).toLocaleString('en-US')), align: 'right' },
    );
  if (variants.some((v) => v.klDivergence !== undefined))
    cols.push(
      { header: 'KL', value: (v) => v.klDivergence?.toPrecision(3) ?? '—', align: 'right' },
      { header: 'KL p99', value: (v) => v.klDivergenceP99?.toPrecision(3) ?? '—', align: 'right' },
    );
  return cols;
}

export function renderMarkdown(r: PipelineReport): string {
  const cols = variantColumns(r.variants);
  const lines = [
    `## edgelm report: ${r.passed ? '✅ all gates passed' : '❌ a quality gate failed'}`,
    '',
    `Pipeline \`${r.pipeline}\`: model \`${r.model}\`${r.evalData ? `, evaluated on \`${r.evalData}\` (${r.samples} samples)` : ''} (paths relative to the pipeline file).`,
    '',
    provenanceLine(r.made),
    '',
    ...r.warnings.map((w) => `> ⚠️ ${w}`),
    ...(r.warnings.length ? [''] : []),
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
    for (const l of layers) lines.push(`| ${l.node}${l.outlier ? ' ⚠️ outlier' : ''} | ${l.op} | ${l.params} | ${l.cosine.toFixed(6)} | ${Number.isFinite(l.sqnrDb) ? `${l.sqnrDb.toFixed(1)} dB` : 'exact'} |`);
    lines.push('', '</details>');
  }
  if (r.keptFloat?.length) lines.push('', `Kept in float to meet the accuracy bound: ${r.keptFloat.map((k) => `\`${k.node}\` (SQNR ${k.sqnrDb.toFixed(1)} dB${k.outlier ? ', an outlier' : ''})`).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

export function renderHtml(r: PipelineReport): string {
  const cols = variantColumns(r.variants);
  const rows = r.variants.map((v) => `<tr>${cols.map((c) => `<td>${esc(c.value(v))}</td>`).join('')}</tr>`).join('\n');
  const charts = [
    ['Size and accuracy', sizeAccuracyChart(r.variants)],
    ['Latency', latencyChart(r.variants)],
    ['Per-layer quantization error', layerErrorChart(r.variants.find((v) => v.perLayer?.length)?.perLayer)],
  ].filter(([, chart]) => chart).map(([title, chart]) => `<h2>${title}</h2>\n${chart}`).join('\n');
  const gates = r.gates.map((g) => `<tr class="${g.passed ? 'pass' : 'fail'}"><td>${g.gate}</td><td>${gateValue(g.gate, g.value)}</td><td>${gateValue(g.gate, g.limit)}</td><td>${g.passed ? 'pass' : 'FAIL'}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgelm report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:1000px}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right;white-space:nowrap}td:first-child,th:first-child{text-align:left}
.pass td:last-child{color:#1a7f37}.fail td:last-child{color:#cf222e;font-weight:bold}
svg{display:block;margin:1rem 0}svg text{font-size:11px;fill:#1b1f24}svg text.title{fill:#57606a}
.axis{stroke:#57606a}.frame{fill:none;stroke:#57606a}.grid{stroke:#d8dee4;stroke-width:1}.link{stroke-width:2;opacity:.5}.marker{stroke:#1b1f24;stroke-width:2}
.made{color:#57606a}.warning{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px}
</style></head><body>
<h1>edgelm report: ${r.passed ? 'all gates passed' : 'a quality gate failed'}</h1>
<p>Pipeline <code>${esc(r.pipeline)}</code>: model <code>${esc(r.model)}</code>${r.evalData ? `, evaluated on <code>${esc(r.evalData)}</code> (${r.samples} samples)` : ''} (paths relative to the pipeline file).</p>
<p class="made">${esc(provenanceLine(r.made))}</p>
${r.warnings.map((w) => `<p class="warning">⚠ ${esc(w)}</p>`).join('\n')}
<table><thead><tr>${cols.map((c) => `<th>${c.header}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
${gates ? `<h2>Gates</h2><table><thead><tr><th>gate</th><th>measured</th><th>limit</th><th>result</th></tr></thead><tbody>${gates}</tbody></table>` : ''}
${charts}
<script type="application/json" id="edgelm-report">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
