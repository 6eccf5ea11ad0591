import { browserScripts } from './vegaRuntime';
import type { Report, ReportCell, ReportSection, ReportTable } from './model';

/**
 * The report as one HTML file: vega, vega-lite and vega-embed inlined (it opens offline,
 * from file://, and makes no network request), the charts' Vega-Lite specs as JSON, and
 * the tables as HTML. Numeric cells carry data-stat (the stat or formula) and data-value
 * (the full-precision number) so a reader or a test can check them against stats.json.
 * `window.socsimReport` exposes the rendered views and a promise for the end of rendering.
 */
export function reportHtml(report: Report): string {
  const charts = report.sections.flatMap((s) => s.charts.map((c) => ({ id: c.id, spec: c.spec })));
  const scripts = browserScripts().map((s) => `<script>${inlineScript(s)}</script>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(report.title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1180px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.subtitle { color: #555; margin: 2px 0; } .note { color: #555; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; } .charts { display: flex; flex-wrap: wrap; gap: 12px 28px; }
figure { margin: 0; } figcaption { font-weight: 600; font-size: 13px; margin-bottom: 4px; }
details pre { background: #f7f7f7; padding: 8px; overflow: auto; max-height: 600px; font-size: 12px; }
</style>
${scripts}
</head>
<body>
<h1>${esc(report.title)}</h1>
${report.subtitle.map((l) => `<p class="subtitle">${esc(l)}</p>`).join('\n')}
${report.sections.map(sectionHtml).join('\n')}
<script type="application/json" id="socsim-charts">${jsonForScript(charts)}</script>
<script>
window.socsimReport = { views: {}, errors: [] };
window.socsimReport.ready = Promise.all(JSON.parse(document.getElementById('socsim-charts').textContent).map(function (c) {
  return vegaEmbed('#chart-' + c.id, c.spec, { renderer: 'svg', actions: false }).then(function (r) {
    window.socsimReport.views[c.id] = r.view;
  }, function (e) {
    window.socsimReport.errors.push(c.id + ': ' + e);
    console.error('chart ' + c.id + ': ' + e);
  });
}));
</script>
</body>
</html>
`;
}

function sectionHtml(s: ReportSection): string {
  const parts = [`<section><h2>${esc(s.title)}</h2>`];
  if (s.note) parts.push(`<p class="note">${esc(s.note)}</p>`);
  for (const t of s.tables) if (t.rows.length) parts.push(tableHtml(t));
  if (s.charts.length) {
    parts.push('<div class="charts">');
    for (const c of s.charts) parts.push(`<figure><figcaption>${esc(c.title)}</figcaption><div class="chart" id="chart-${esc(c.id)}"></div></figure>`);
    parts.push('</div>');
  }
  if (s.details) parts.push(`<details><summary>${esc(s.details.summary)}</summary><pre>${esc(s.details.text)}</pre></details>`);
  parts.push('</section>');
  return parts.join('\n');
}

function tableHtml(t: ReportTable): string {
  const head = `<tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map(cellHtml).join('')}</tr>`).join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

function cellHtml(c: ReportCell): string {
  const isNum = c.value !== undefined;
  const attrs = [
    isNum ? ' class="num"' : '',
    c.stat !== undefined ? ` data-stat="${esc(c.stat)}" title="${esc(c.stat)}"` : '',
    isNum ? ` data-value="${c.value === null ? '' : String(c.value)}"` : '',
  ].join('');
  return `<td${attrs}>${esc(c.text)}</td>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON inside a script element: `<` escaped so no `</script>` or `<!--` can end it early. */
function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

/** A library's source inside a script element: `</script` broken up (`<\/` means the same in JS strings and regexes). */
function inlineScript(src: string): string {
  return src.replace(/<\/(script)/gi, '<\\/$1');
}
