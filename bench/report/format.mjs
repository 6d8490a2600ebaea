// How the report writes numbers, ratios and names, in HTML and in the README
// table alike (one place, so both say the same thing the same way).
export function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return v.toExponential(2);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}
export const fmtRatio = (r) => (typeof r !== 'number' || !Number.isFinite(r) ? '–'
  : r >= 10 ? `${r.toFixed(1)}×` : r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`);
export const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
export const caseName = (row) => row.case.replace(/ \([^)]*\)$/, '');
