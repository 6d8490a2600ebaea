// The demo's live charts, hand-drawn on a canvas: a ring of samples per
// series, one or two y axes scaled to the visible maximum, a legend with the
// latest values.

const CHART_POINTS = 240; // 60 s of history at one sample per tick (250 ms)

export class Chart {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ axis: 'left', ...s, data: new Array(CHART_POINTS).fill(null) }));
    this.ctx = canvas.getContext('2d');
  }

  push(values) {
    this.series.forEach((s, i) => {
      s.data.push(values[i] ?? null);
      s.data.shift();
    });
  }

  draw() {
    const { w, h } = this.#fitCanvas();
    const { ctx } = this;
    ctx.font = '10px ui-monospace, monospace';
    const { legend, rows } = this.#layoutLegend(w);
    const pad = { l: 46, r: 46, t: 22 + rows * 13, b: 14 };
    const plot = { x: pad.l, y: pad.t, w: w - pad.l - pad.r, h: h - pad.t - pad.b };
    ctx.clearRect(0, 0, w, h);
    ctx.textBaseline = 'middle';

    const max = {};
    for (const axis of ['left', 'right']) {
      let m = 0;
      for (const s of this.series) if (s.axis === axis) for (const v of s.data) if (v !== null && v > m) m = v;
      max[axis] = niceCeil(m || 1);
    }
    this.#drawGrid(plot, max);
    this.#drawLines(plot, max);
    // legend
    ctx.textAlign = 'left';
    for (const { s, text, x, y } of legend) {
      ctx.fillStyle = s.color;
      ctx.fillRect(x, y - 4, 8, 8);
      ctx.fillStyle = '#d8dde4';
      ctx.fillText(text, x + 11, y);
    }
  }

  // Matches the canvas's pixels to its CSS size; returns that size in CSS pixels.
  #fitCanvas() {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const H = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { w: W / dpr, h: H / dpr };
  }

  // One legend item per series (its latest value), wrapped into rows of width w.
  #layoutLegend(w) {
    const { ctx } = this;
    const legend = this.series.map((s) => {
      const last = s.data[s.data.length - 1];
      return { s, text: `${s.name} ${last === null ? 'n/a' : s.tick(last)}` };
    });
    let lx = 46;
    let row = 0;
    for (const item of legend) {
      const width = ctx.measureText(item.text).width + 24;
      if (lx + width > w - 8 && lx > 46) {
        lx = 46;
        row++;
      }
      item.x = lx;
      item.y = 11 + row * 13;
      lx += width;
    }
    return { legend, rows: row };
  }

  // Grid lines and axis labels, in the colour of each axis's first series.
  #drawGrid(plot, max) {
    const { ctx } = this;
    ctx.strokeStyle = '#2a3039';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = plot.y + (plot.h * i) / 4;
      ctx.beginPath();
      ctx.moveTo(plot.x, Math.round(y) + 0.5);
      ctx.lineTo(plot.x + plot.w, Math.round(y) + 0.5);
      ctx.stroke();
      const frac = 1 - i / 4;
      const left = this.series.find((s) => s.axis === 'left');
      const right = this.series.find((s) => s.axis === 'right');
      ctx.fillStyle = left ? left.color : '#8a94a3';
      ctx.textAlign = 'right';
      if (left) ctx.fillText(left.tick(max.left * frac), plot.x - 4, y);
      if (right) {
        ctx.fillStyle = right.color;
        ctx.textAlign = 'left';
        ctx.fillText(right.tick(max.right * frac), plot.x + plot.w + 4, y);
      }
    }
  }

  // One line per series; a null sample lifts the pen.
  #drawLines(plot, max) {
    const { ctx } = this;
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.setLineDash(s.dash ?? []);
      ctx.beginPath();
      let pen = false;
      s.data.forEach((v, i) => {
        if (v === null) {
          pen = false;
          return;
        }
        const x = plot.x + (plot.w * i) / (CHART_POINTS - 1);
        const y = plot.y + plot.h * (1 - Math.min(1, v / max[s.axis]));
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
