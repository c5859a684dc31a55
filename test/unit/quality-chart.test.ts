import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { niceStep, PALETTE, Raster, renderChart, textWidth } from '../../bench/quality/chart.js';

test('niceStep picks 1, 2 or 5 × 10^n', () => {
  assert.equal(niceStep(100_000, 8), 20_000);
  assert.equal(niceStep(0.23, 5), 0.05);
  assert.equal(niceStep(1, 5), 0.2);
  assert.equal(niceStep(0, 5), 1);
});

test('the raster draws lines and bitmap text', () => {
  const r = new Raster(40, 20);
  r.line(0, 10, 39, 10, [255, 0, 0]);
  assert.deepEqual(r.pixel(20, 10), [255, 0, 0]);
  assert.deepEqual(r.pixel(20, 5), [255, 255, 255]);
  const width = r.text(1, 1, 'Hi', [0, 0, 0]);
  assert.equal(width, textWidth('Hi'));
  // The left stem of "H" is ink on every row.
  for (let y = 1; y < 8; y++) assert.deepEqual(r.pixel(1, y), [0, 0, 0]);
});

test('renderChart writes a PNG with one colour per series and a legend', () => {
  const png = renderChart({
    title: 'test',
    xLabel: 'events',
    panels: [
      {
        yLabel: 'HR@10',
        series: [
          {
            name: 'eddy',
            points: [
              [1000, 0.1],
              [2000, 0.2],
              [3000, Number.NaN],
              [4000, 0.25],
            ],
          },
          {
            name: 'popularity',
            points: [
              [1000, 0.05],
              [2000, 0.06],
              [3000, 0.07],
              [4000, 0.07],
            ],
          },
        ],
      },
    ],
    marker: { x: 1500, label: 'evaluation' },
  });
  const image = PNG.sync.read(png);
  assert.ok(image.width > 0 && image.height > 0);
  const colours = new Set<string>();
  for (let o = 0; o < image.data.length; o += 4) {
    colours.add(`${image.data[o]},${image.data[o + 1]},${image.data[o + 2]}`);
  }
  for (const [r, g, b] of PALETTE.slice(0, 2))
    assert.ok(colours.has(`${r},${g},${b}`), `colour ${r},${g},${b}`);
  assert.ok(!colours.has(PALETTE[2]!.join(',')), 'no third series');
});
