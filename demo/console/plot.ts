/**
 * A small time-series plot on a canvas, drawn by hand (a charting library would be larger
 * than the whole console for a few lines).
 */
export interface Series {
  label: string;
  colour: string;
  values: number[];
  /** Scale on the right-hand axis (a second unit in the same plot). */
  right?: boolean;
  /** Shown after the latest value in the legend (e.g. a total). */
  note?: string;
}

/** Samples kept per series: at one sample a second, the last two minutes. */
export const plot_samples_max = 120;
const plot_height_px = 96;
/** Room at the bottom for the time labels. */
const time_axis_px = 12;

export class Plot {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly latest: HTMLElement;

  constructor(
    readonly title: string,
    private readonly unit: string,
    /** Unit of the right-hand axis, for series with `right`. */
    private readonly rightUnit = '',
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.height = plot_height_px;
    this.latest = document.createElement('div');
    this.latest.className = 'plot-latest';
    this.element = document.createElement('figure');
    this.element.className = 'plot';
    const cap = document.createElement('figcaption');
    cap.textContent = title;
    this.element.append(cap, this.canvas, this.latest);
  }

  draw(series: Series[]): void {
    // Draw at the size the canvas is shown, in device pixels: text stays sharp, lines unstretched.
    const dpr = globalThis.devicePixelRatio || 1;
    const cssWidth = Math.max(120, this.canvas.clientWidth || 320);
    if (this.canvas.width !== Math.round(cssWidth * dpr)) {
      this.canvas.width = Math.round(cssWidth * dpr);
      this.canvas.height = Math.round(plot_height_px * dpr);
    }
    const c = this.canvas.getContext('2d')!;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    const width = cssWidth;
    const height = plot_height_px - time_axis_px;
    const pad = 4;
    c.clearRect(0, 0, width, plot_height_px);
    // For tests and tools: how many samples, and the largest value shown.
    this.element.dataset.samples = String(Math.max(0, ...series.map((s) => s.values.length)));
    this.element.dataset.max = String(Math.max(0, ...series.flatMap((s) => s.values)));
    const topOf = (ss: Series[]) => niceCeil(Math.max(1e-9, ...ss.flatMap((s) => s.values)));
    const leftTop = topOf(series.filter((s) => !s.right));
    const rightTop = topOf(series.filter((s) => s.right));
    c.strokeStyle = '#eef0f4';
    c.lineWidth = 1;
    for (let i = 0; i <= 2; i++) {
      const y = Math.round(pad + ((height - 2 * pad) * i) / 2) + 0.5;
      c.beginPath();
      c.moveTo(0, y);
      c.lineTo(width, y);
      c.stroke();
    }
    c.fillStyle = '#8a93a3';
    c.font = '10px system-ui, sans-serif';
    c.textBaseline = 'top';
    c.textAlign = 'left';
    c.fillText(`${fmt(leftTop)} ${this.unit}`.trim(), 4, pad + 1);
    if (series.some((s) => s.right)) {
      c.textAlign = 'right';
      c.fillText(`${fmt(rightTop)} ${this.rightUnit}`.trim(), width - 4, pad + 1);
    }
    c.textBaseline = 'bottom';
    c.textAlign = 'left';
    c.fillText(`${Math.round(plot_samples_max / 60)} min ago`, 4, plot_height_px);
    c.textAlign = 'right';
    c.fillText('now', width - 4, plot_height_px);
    for (const s of series) {
      const top = s.right ? rightTop : leftTop;
      c.strokeStyle = s.colour;
      c.lineWidth = 1.8;
      c.beginPath();
      s.values.forEach((v, i) => {
        const x = width - (s.values.length - 1 - i) * (width / (plot_samples_max - 1));
        const y = height - pad - (v / top) * (height - 2 * pad);
        if (i === 0) c.moveTo(x, y);
        else c.lineTo(x, y);
      });
      c.stroke();
    }
    this.latest.replaceChildren(
      ...series.map((s) => {
        const span = document.createElement('span');
        span.innerHTML = `<i style="background:${s.colour}"></i>`;
        span.append(`${s.label} ${fmt(s.values.at(-1) ?? 0)}${s.note ? ` ${s.note}` : ''}`);
        return span;
      }),
    );
  }
}

function niceCeil(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 100 || v === 0) return Math.round(v).toLocaleString('en');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
