// The report's one kind of chart, an inline SVG: self-contained, so the HTML
// report needs no script and no network.
import { caseName, esc, fmtRatio } from './format.mjs';

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2', '#9d755d', '#eeca3b'];

// Horizontal bars of ferry-vs-baseline ratios on a log scale: right of the
// 1× line ferry is better, left it is behind.
export function ratioChart(table) {
  const rows = table.rows.filter((r) => table.baselines.some((b) => Number.isFinite(r.ratios?.[b])));
  if (!rows.length) return '';
  const base = table.baselines.filter((b) => rows.some((r) => Number.isFinite(r.ratios?.[b])));
  const labelW = 330, plotW = 520, rightPad = 70, barH = 9, gap = 2, groupPad = 8, top = 34;
  const maxLog = 6;  // 2^6 = 64x either way, clamped beyond
  const x = (r) => labelW + plotW / 2 + (Math.max(-maxLog, Math.min(maxLog, Math.log2(r))) / maxLog) * (plotW / 2);
  const groupH = base.length * (barH + gap) + groupPad;
  const height = top + rows.length * groupH + 10;
  const width = labelW + plotW + rightPad;
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="ratios of ferry to each baseline: ${esc(table.title)}" font-family="system-ui, sans-serif" font-size="11">`);
  // legend
  let lx = 4;
  base.forEach((b, i) => {
    parts.push(`<rect x="${lx}" y="4" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${lx + 14}" y="13">${esc(b)}</text>`);
    lx += 30 + b.length * 7;
  });
  // grid
  for (let k = -maxLog; k <= maxLog; k += 2) {
    const gx = x(2 ** k);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 6}" stroke="${k === 0 ? '#333' : '#ddd'}" stroke-width="${k === 0 ? 1.5 : 1}"/>`);
    parts.push(`<text x="${gx}" y="${top - 9}" text-anchor="middle" fill="#555">${k >= 0 ? 2 ** k : '1/' + 2 ** -k}×</text>`);
  }
  parts.push(`<text x="${labelW + 4}" y="${height - 1}" fill="#a33" font-size="10">← ferry behind</text>`);
  parts.push(`<text x="${labelW + plotW - 4}" y="${height - 1}" fill="#262" font-size="10" text-anchor="end">ferry ahead →</text>`);
  rows.forEach((r, ri) => {
    const gy = top + ri * groupH;
    const label = caseName(r);
    parts.push(`<text x="${labelW - 6}" y="${gy + (base.length * (barH + gap)) / 2 + 4}" text-anchor="end">${esc(label.length > 52 ? label.slice(0, 51) + '…' : label)}</text>`);
    base.forEach((b, bi) => {
      const ratio = r.ratios?.[b];
      if (!Number.isFinite(ratio)) return;
      const y = gy + bi * (barH + gap);
      const x0 = x(1), x1 = x(ratio);
      parts.push(`<rect x="${Math.min(x0, x1)}" y="${y}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${barH}" fill="${PALETTE[bi % PALETTE.length]}" opacity="${ratio < 0.95 ? 1 : 0.75}"><title>${esc(label)} — vs ${esc(b)}: ${fmtRatio(ratio)}</title></rect>`);
      parts.push(`<text x="${ratio >= 1 ? Math.max(x0, x1) + 3 : Math.min(x0, x1) - 3}" y="${y + barH - 1}" font-size="9" text-anchor="${ratio >= 1 ? 'start' : 'end'}" fill="${ratio < 0.95 ? '#a33' : '#333'}">${fmtRatio(ratio)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}
