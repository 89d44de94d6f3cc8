/**
 * Bar charts as SVG built by hand (no browser, no canvas), rasterised to PNG with resvg. One
 * chart kind is all the report needs: labelled horizontal bars, each with an optional target mark.
 */
import { Resvg } from "@resvg/resvg-js";

export interface Bar {
  label: string;
  value: number;
  /** Drawn as a vertical tick; the bar is green when it meets it, orange when short. */
  target?: number;
  ok?: boolean;
  /** Text after the bar; default the value. */
  note?: string;
}

export interface BarChart {
  title: string;
  /** Axis caption, e.g. "x of target". */
  axis: string;
  bars: Bar[];
  /** Log scale for values spanning orders of magnitude. @default false */
  log?: boolean;
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** The chart as an SVG document. */
export function barChartSvg(c: BarChart): string {
  const rowH = 26;
  const labelW = 250;
  const plotW = 420;
  const top = 44;
  const width = labelW + plotW + 110;
  const height = top + c.bars.length * rowH + 40;
  const max = Math.max(1e-9, ...c.bars.flatMap((b) => [b.value, b.target ?? 0])) * 1.08;
  const min = c.log === true ? Math.min(...c.bars.map((b) => Math.max(b.value, 1e-3))) / 2 : 0;
  const x = (v: number): number => {
    if (c.log !== true) return labelW + (Math.max(0, v) / max) * plotW;
    const lv = Math.log10(Math.max(v, min));
    return labelW + ((lv - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotW;
  };
  const parts: string[] = [
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold" fill="#1d2330">${esc(c.title)}</text>`,
  ];
  c.bars.forEach((b, i) => {
    const y = top + i * rowH;
    const color = b.ok === undefined ? "#2f6fde" : b.ok ? "#2e9d4f" : "#e08a00";
    parts.push(
      `<text x="${labelW - 8}" y="${y + 16}" font-size="12" text-anchor="end" fill="#1d2330">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${Math.max(1, x(b.value) - labelW)}" height="${rowH - 10}" fill="${color}"/>`,
      `<text x="${x(b.value) + 6}" y="${y + 16}" font-size="11" fill="#3d4455">${esc(b.note ?? fmt(b.value))}</text>`,
    );
    if (b.target !== undefined) {
      const tx = x(b.target);
      parts.push(
        `<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + rowH - 3}" stroke="#b3261e" stroke-width="2"/>`,
      );
    }
  });
  const axisY = top + c.bars.length * rowH + 4;
  parts.push(
    `<line x1="${labelW}" y1="${axisY}" x2="${labelW + plotW}" y2="${axisY}" stroke="#9aa1b0"/>`,
    `<text x="${labelW}" y="${axisY + 16}" font-size="11" fill="#5b6275">${esc(c.axis)}${c.log === true ? " (log scale)" : ""}; red tick = target</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">${parts.join("")}</svg>`;
}

/** The chart as PNG bytes. */
export function barChartPng(c: BarChart): Buffer {
  const png = new Resvg(barChartSvg(c), {
    background: "#ffffff",
    fitTo: { mode: "zoom", value: 1.5 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  }).render();
  return png.asPng();
}
