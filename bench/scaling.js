// Figure 7: how `edgelm quantize` (ONNX, int8 weights) scales with model size, 64 MiB to 2.5 GiB:
// wall time and peak RSS per size, drawn as an HTML page with inline SVG charts in the style of
// edgelm's reports (docs/scaling.html). Models up to 1 GiB go through the in-memory path, larger
// ones stream one tensor at a time (the CLI's automatic switch).
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, OUT, ROOT, emit, fmt, measure, row } from './lib.js';
import { writeExternalMlp } from './onnx-models.js';

const SIZES = [
  ['scale-64m', 4096, 1],
  ['scale-256m', 4096, 4],
  ['scale-1g', 8192, 4],
  ['scale-2500m', 8192, 10],
];
const points = [];
for (const [name, width, layers] of SIZES) {
  const model = writeExternalMlp(join(OUT, `${name}.onnx`), width, layers, 9000);
  const mib = (statSync(model).size + statSync(`${model}.data`).size) / 2 ** 20;
  const r = await measure(process.execPath, [CLI, 'quantize', model, '-o', join(OUT, `${name}-int8.onnx`), '--json']);
  points.push({ mib, seconds: r.seconds, rss: r.peakRssMiB, streamed: JSON.parse(r.stdout).streamed === true });
}

function chart(id, title, ys, unit) {
  const [w, h, m] = [560, 260, 56];
  const lx = points.map((p) => Math.log2(p.mib));
  const [x0, x1] = [Math.min(...lx) - 0.3, Math.max(...lx) + 0.3];
  const y1 = Math.max(...ys) * 1.15;
  const sx = (v) => m + ((v - x0) / (x1 - x0)) * (w - 2 * m);
  const sy = (v) => h - m - (v / y1) * (h - 2 * m);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${sx(lx[i]).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(' ');
  const dots = points.map((p, i) => `<circle class="point" cx="${sx(lx[i]).toFixed(1)}" cy="${sy(ys[i]).toFixed(1)}" r="5"><title>${p.mib.toFixed(0)} MiB: ${ys[i].toFixed(2)} ${unit}</title></circle><text x="${(sx(lx[i]) + 7).toFixed(1)}" y="${(sy(ys[i]) - 7).toFixed(1)}">${ys[i].toFixed(ys[i] < 10 ? 2 : 0)} ${unit}</text><text x="${sx(lx[i]).toFixed(1)}" y="${h - m + 16}" text-anchor="middle">${p.mib < 1024 ? `${p.mib.toFixed(0)} MiB` : `${(p.mib / 1024).toFixed(1)} GiB`}</text>`).join('');
  return `<h2>${title}</h2><svg id="${id}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"><line class="axis" x1="${m}" y1="${h - m}" x2="${w - m}" y2="${h - m}"/><line class="axis" x1="${m}" y1="${m / 2}" x2="${m}" y2="${h - m}"/><path d="${path}" fill="none" stroke="#0969da" stroke-width="2"/>${dots}<text x="${w / 2}" y="${h - 12}" text-anchor="middle">model size (log scale)</text></svg>`;
}
const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgelm quantize: scaling</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:900px}svg{display:block;margin:1rem 0}svg text{font-size:11px;fill:#1b1f24}.axis{stroke:#57606a}.point{fill:#0969da}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}table{border-collapse:collapse}</style></head><body>
<h1>edgelm quantize (ONNX, int8 weights): time and peak memory against model size</h1>
<p>Measured ${new Date().toISOString().slice(0, 10)} on ${process.env.HOSTNAME ?? 'the CI machine'} (node ${process.version}). Models above 1 GiB are quantized one tensor at a time.</p>
<table><tr><th>model</th><th>wall</th><th>peak RSS</th><th>path</th></tr>${points.map((p) => `<tr><td>${p.mib.toFixed(0)} MiB</td><td>${p.seconds.toFixed(2)} s</td><td>${p.rss.toFixed(0)} MiB</td><td>${p.streamed ? 'streamed' : 'in memory'}</td></tr>`).join('')}</table>
${chart('time', 'Wall time', points.map((p) => p.seconds), 's')}
${chart('memory', 'Peak resident memory', points.map((p) => p.rss), 'MiB')}
</body></html>
`;
writeFileSync(join(ROOT, 'docs', 'scaling.html'), html);
const last = points.at(-1);
emit([row('7 scaling 64 MiB → 2.5 GiB (docs/scaling.html)', points.map((p) => `${p.seconds.toFixed(1)} s/${p.rss.toFixed(0)} MiB`).join(', '), '—', '—', 'plot', null, `largest: ${fmt.ms(last.seconds * 1e3)}, ${last.rss.toFixed(0)} MiB peak`)]);
