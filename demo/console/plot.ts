/**
 * A small time-series plot on a canvas, drawn by hand (a charting library would be larger
 * than the whole console for a few lines).
 */
export interface Series {
  label: string;
  colour: string;
  values: number[];
}

/** Samples kept per series: at one sample a second, the last two minutes. */
export const plot_samples_max = 120;

export class Plot {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly latest: HTMLElement;

  constructor(
    readonly title: string,
    private readonly unit: string,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.width = 320;
    this.canvas.height = 90;
    this.latest = document.createElement('div');
    this.latest.className = 'plot-latest';
    this.element = document.createElement('figure');
    this.element.className = 'plot';
    const cap = document.createElement('figcaption');
    cap.textContent = title;
    this.element.append(cap, this.canvas, this.latest);
  }

  draw(series: Series[]): void {
    const c = this.canvas.getContext('2d')!;
    const { width, height } = this.canvas;
    const pad = 4;
    c.clearRect(0, 0, width, height);
    const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
    const top = niceCeil(max);
    c.strokeStyle = '#eef0f4';
    c.lineWidth = 1;
    for (let i = 0; i <= 2; i++) {
      const y = pad + ((height - 2 * pad) * i) / 2;
      c.beginPath();
      c.moveTo(0, y);
      c.lineTo(width, y);
      c.stroke();
    }
    c.fillStyle = '#8a93a3';
    c.font = '10px system-ui, sans-serif';
    c.fillText(`${fmt(top)} ${this.unit}`, 4, 12);
    for (const s of series) {
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
        span.append(`${s.label} ${fmt(s.values.at(-1) ?? 0)}`);
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
  if (v >= 100 || v === 0) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
