/**
 * A small line-chart rasteriser for the windowed quality curves: axes with ticks, one coloured
 * polyline per method, a legend and an optional marker line, drawn into an RGBA buffer and encoded
 * with pngjs. Text uses a built-in 5×7 bitmap font (upper case; lower case is drawn as upper case),
 * so the chart needs no font files, no canvas and no native module.
 */

import { PNG } from 'pngjs';

export interface ChartSeries {
  readonly name: string;
  /** (x, y) pairs in increasing x; a NaN y breaks the line. */
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartPanel {
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  /** Stacked vertically, sharing the x axis and the legend. */
  readonly panels: readonly ChartPanel[];
  /** A dashed vertical line, e.g. where validation ends and evaluation begins. */
  readonly marker?: { readonly x: number; readonly label: string };
  readonly width?: number;
  readonly panelHeight?: number;
}

type Rgb = readonly [number, number, number];

/** Tableau 10: distinguishable, and readable for the common colour-vision deficiencies. */
export const PALETTE: readonly Rgb[] = [
  [78, 121, 167],
  [242, 142, 43],
  [225, 87, 89],
  [118, 183, 178],
  [89, 161, 79],
  [237, 201, 72],
  [176, 122, 161],
  [255, 157, 167],
  [156, 117, 95],
  [186, 176, 172],
];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [34, 34, 34];
const GRID: Rgb = [225, 225, 225];
const MARKER: Rgb = [130, 130, 130];

// 5×7 glyphs, rows top to bottom, '#' = ink.
const GLYPHS: Readonly<Record<string, string>> = {
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '####. ....# ....# .###. ....# ....# ####.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  '-': '..... ..... ..... ##### ..... ..... .....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '/': '....# ....# ...#. ..#.. .#... #.... #....',
  '@': '.###. #...# #.### #.#.# #.### #.... .####',
  '%': '##..# ##..# ...#. ..#.. .#... #..## #..##',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
};

const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;

/** An RGBA raster with the few primitives the chart needs. */
export class Raster {
  readonly data: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    this.data = Buffer.alloc(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  pixel(x: number, y: number): Rgb {
    const o = (Math.round(y) * this.width + Math.round(x)) * 4;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  set(x: number, y: number, [r, g, b]: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const o = (yi * this.width + xi) * 4;
    this.data[o] = r;
    this.data[o + 1] = g;
    this.data[o + 2] = b;
    this.data[o + 3] = 255;
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let yy = Math.max(0, Math.round(y)); yy < Math.min(this.height, Math.round(y + h)); yy++) {
      for (let xx = Math.max(0, Math.round(x)); xx < Math.min(this.width, Math.round(x + w)); xx++) {
        this.set(xx, yy, color);
      }
    }
  }

  /** Bresenham with a square brush of `thickness` pixels; `dash` > 0 draws that many on, as many off. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1, dash = 0): void {
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xe = Math.round(x1);
    const ye = Math.round(y1);
    const dx = Math.abs(xe - x);
    const dy = -Math.abs(ye - y);
    const sx = x < xe ? 1 : -1;
    const sy = y < ye ? 1 : -1;
    let err = dx + dy;
    const offset = Math.floor((thickness - 1) / 2);
    for (let step = 0; ; step++) {
      if (dash <= 0 || Math.floor(step / dash) % 2 === 0) {
        this.fillRect(x - offset, y - offset, thickness, thickness, color);
      }
      if (x === xe && y === ye) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }

  /** Draws `text` with its top-left corner at (x, y); returns the width drawn. */
  text(x: number, y: number, text: string, color: Rgb, scale = 1): number {
    let cx = Math.round(x);
    for (const ch of text.toUpperCase()) {
      const glyph = GLYPHS[ch] ?? GLYPHS[ch === '–' || ch === '—' ? '-' : '?']!;
      const rows = glyph.split(' ');
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        const row = rows[r]!;
        for (let c = 0; c < GLYPH_WIDTH; c++) {
          if (row[c] === '#') this.fillRect(cx + c * scale, y + r * scale, scale, scale, color);
        }
      }
      cx += (GLYPH_WIDTH + 1) * scale;
    }
    return cx - Math.round(x);
  }

  /** Rotated a quarter turn anticlockwise (for a y-axis label), bottom-left corner at (x, y). */
  verticalText(x: number, y: number, text: string, color: Rgb, scale = 1): void {
    let cy = Math.round(y);
    for (const ch of text.toUpperCase()) {
      const glyph = GLYPHS[ch] ?? GLYPHS['?']!;
      const rows = glyph.split(' ');
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let c = 0; c < GLYPH_WIDTH; c++) {
          if (rows[r]![c] === '#') this.fillRect(x + r * scale, cy - (c + 1) * scale, scale, scale, color);
        }
      }
      cy -= (GLYPH_WIDTH + 1) * scale;
    }
  }

  png(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    this.data.copy(png.data);
    return PNG.sync.write(png);
  }
}

export function textWidth(text: string, scale = 1): number {
  return [...text].length * (GLYPH_WIDTH + 1) * scale;
}

/** A step of 1, 2 or 5 × 10^n giving about `count` intervals over [0, max]. */
export function niceStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const factor = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
  return factor * magnitude;
}

function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  if (step >= 1_000_000) return `${value / 1_000_000}M`;
  if (step >= 1_000) return `${value / 1_000}K`;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return value.toFixed(decimals);
}

export function renderChart(options: ChartOptions): Buffer {
  const scale = 2;
  const width = options.width ?? 1280;
  const panelHeight = options.panelHeight ?? 360;
  const names = [...new Set(options.panels.flatMap((p) => p.series.map((s) => s.name)))];
  const legendWidth = Math.max(...names.map((n) => textWidth(n, scale)), 0) + 60;
  const left = 110;
  const right = width - legendWidth - 20;
  const top = 60;
  const gap = 70;
  const height = top + options.panels.length * (panelHeight + gap) + 10;
  const raster = new Raster(width, height);
  raster.text((width - textWidth(options.title, scale)) / 2, 18, options.title, BLACK, scale);

  let xMax = 0;
  for (const panel of options.panels) {
    for (const s of panel.series) for (const [x] of s.points) if (x > xMax) xMax = x;
  }
  const xStep = niceStep(xMax, 8);
  const xEnd = Math.max(xStep, Math.ceil(xMax / xStep) * xStep);
  const colorOf = (name: string): Rgb => PALETTE[names.indexOf(name) % PALETTE.length]!;

  options.panels.forEach((panel, p) => {
    const y0 = top + p * (panelHeight + gap);
    const bottom = y0 + panelHeight;
    let yMax = 0;
    for (const s of panel.series) for (const [, y] of s.points) if (Number.isFinite(y) && y > yMax) yMax = y;
    const yStep = niceStep(yMax * 1.05, 5);
    const yEnd = Math.max(yStep, Math.ceil((yMax * 1.05) / yStep) * yStep);
    const px = (x: number): number => left + ((right - left) * x) / xEnd;
    const py = (y: number): number => bottom - ((bottom - y0) * y) / yEnd;

    for (let v = 0; v <= yEnd + yStep / 2; v += yStep) {
      const y = py(v);
      raster.line(left, y, right, y, GRID);
      const label = formatTick(v, yStep);
      raster.text(left - 10 - textWidth(label, scale), y - 7, label, BLACK, scale);
    }
    for (let v = 0; v <= xEnd + xStep / 2; v += xStep) {
      const x = px(v);
      raster.line(x, y0, x, bottom, GRID);
      raster.line(x, bottom, x, bottom + 6, BLACK);
      const label = formatTick(v, xStep);
      raster.text(x - textWidth(label, scale) / 2, bottom + 12, label, BLACK, scale);
    }
    raster.line(left, y0, left, bottom, BLACK, 2);
    raster.line(left, bottom, right, bottom, BLACK, 2);
    raster.verticalText(
      14,
      (y0 + bottom) / 2 + textWidth(panel.yLabel, scale) / 2,
      panel.yLabel,
      BLACK,
      scale,
    );
    if (p === options.panels.length - 1) {
      raster.text(
        (left + right - textWidth(options.xLabel, scale)) / 2,
        bottom + 38,
        options.xLabel,
        BLACK,
        scale,
      );
    }
    if (options.marker !== undefined && options.marker.x <= xEnd) {
      const x = px(options.marker.x);
      raster.line(x, y0, x, bottom, MARKER, 2, 6);
      raster.text(x + 6, y0 + 6, options.marker.label, MARKER, scale);
    }
    // Last series first, so the first one (the method under test) is drawn on top of the rest.
    for (const s of [...panel.series].reverse()) {
      const color = colorOf(s.name);
      let previous: readonly [number, number] | null = null;
      for (const point of s.points) {
        if (!Number.isFinite(point[1])) {
          previous = null;
          continue;
        }
        if (previous !== null)
          raster.line(px(previous[0]), py(previous[1]), px(point[0]), py(point[1]), color, 3);
        else raster.fillRect(px(point[0]) - 1, py(point[1]) - 1, 3, 3, color);
        previous = point;
      }
    }
  });

  names.forEach((name, i) => {
    const y = top + 10 + i * 26;
    const x = right + 30;
    raster.fillRect(x, y + 5, 24, 4, colorOf(name));
    raster.text(x + 32, y, name, BLACK, scale);
  });
  return raster.png();
}
