// Charts drawn by uPlot (a small, fast canvas charting library): a
// customer's balance over time, and a distribution of balances.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** Draws a uPlot chart into el, resized with the window; returns its teardown. */
function mount(el: HTMLElement, opts: Omit<uPlot.Options, "width">, data: uPlot.AlignedData): () => void {
  const width = () => Math.max(280, Math.min(el.clientWidth || 800, 1100));
  const plot = new uPlot({ ...opts, width: width() } as uPlot.Options, data, el);
  const resize = () => plot.setSize({ width: width(), height: opts.height });
  addEventListener("resize", resize);
  return () => {
    removeEventListener("resize", resize);
    plot.destroy();
  };
}

/**
 * The balance over time, the overdraft limit as a dashed line, and a
 * tick under the time axis for each event.
 */
export function BalanceChart(props: { times: number[]; balances: number[]; limit: number; events: number[] }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const marks = props.events;
    const opts: Omit<uPlot.Options, "width"> = {
      height: 260,
      legend: { live: false },
      scales: { x: { time: true } },
      series: [
        {},
        { label: "Balance", stroke: "#2458a6", width: 2, fill: "rgba(36,88,166,0.08)" },
        { label: "Overdraft limit", stroke: "#b3261e", dash: [6, 4], width: 1, points: { show: false } },
      ],
      axes: [{}, { label: "points" }],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            const y = u.bbox.top + u.bbox.height;
            ctx.save();
            ctx.fillStyle = "#6b4fa1";
            for (const t of marks) {
              const x = u.valToPos(t, "x", true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, y - 8 * devicePixelRatio);
              ctx.lineTo(x - 4 * devicePixelRatio, y);
              ctx.lineTo(x + 4 * devicePixelRatio, y);
              ctx.fill();
            }
            ctx.restore();
          },
        ],
      },
    };
    return mount(el.current, opts, [props.times, props.balances, props.times.map(() => props.limit)]);
  }, [props.times, props.balances, props.limit, props.events]);
  return (
    <div ref={el} class="chart" data-testid="balance-chart" data-points={props.times.length} data-events={props.events.length}
      role="img" aria-label={`Balance over time, ${props.times.length} points, ${props.events.length} events`} />
  );
}

/**
 * A dot plot, one column per segment: its 10th percentile, median and
 * 90th percentile of balances, so both the level and the spread show.
 */
export function SpreadChart(props: { labels: string[]; p10: number[]; p50: number[]; p90: number[] }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const xs = props.labels.map((_, i) => i);
    const dots = (stroke: string, size: number) => ({ stroke, fill: stroke, paths: () => null, points: { show: true, size, fill: stroke } });
    const opts: Omit<uPlot.Options, "width"> = {
      height: 240,
      legend: { live: false },
      cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, Math.max(xs.length - 0.5, 0.5)] } },
      series: [
        {},
        // The median first, so the smaller dots stay visible on it.
        { label: "median", ...dots("#2458a6", 13) },
        { label: "p10", ...dots("#b3261e", 8) },
        { label: "p90", ...dots("#2e7d32", 8) },
      ],
      axes: [
        { values: (_u, splits) => splits.map((i) => props.labels[i] ?? ""), splits: () => xs, grid: { show: false } },
        { label: "balance" },
      ],
    };
    return mount(el.current, opts, [xs, props.p50, props.p10, props.p90]);
  }, [props.labels, props.p10, props.p50, props.p90]);
  return <div ref={el} class="chart" data-testid="spread-chart" data-bars={props.labels.length} role="img"
    aria-label={`Balance distribution of ${props.labels.length} segments`} />;
}

/**
 * A segment's daily trend: the mean balance with its 10th and 90th
 * percentiles (left axis), and the overdrawn count (right axis).
 */
export function TrendChart(props: { days: string[]; mean: number[]; p10: number[]; p90: number[]; overdrawn: number[] }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const xs = props.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const opts: Omit<uPlot.Options, "width"> = {
      height: 260,
      legend: { live: false },
      scales: { x: { time: true }, n: { range: (_u, _lo, hi) => [0, Math.max(1, hi * 1.1)] } },
      series: [
        {},
        { label: "Mean", stroke: "#2458a6", width: 2 },
        { label: "p10", stroke: "#b3261e", dash: [4, 4], width: 1 },
        { label: "p90", stroke: "#2e7d32", dash: [4, 4], width: 1 },
        { label: "Overdrawn", stroke: "#6b4fa1", width: 1, scale: "n", paths: uPlot.paths.stepped?.({ align: 1 }) },
      ],
      axes: [{}, { label: "balance" }, { scale: "n", side: 1, label: "overdrawn", grid: { show: false } }],
    };
    return mount(el.current, opts, [xs, props.mean, props.p10, props.p90, props.overdrawn]);
  }, [props.days, props.mean, props.p10, props.p90, props.overdrawn]);
  return <div ref={el} class="chart" data-testid="trend-chart" data-days={props.days.length} role="img"
    aria-label={`Daily trend over ${props.days.length} days`} />;
}
