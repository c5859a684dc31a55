import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EddyError } from '../../streams/errors.js';
import {
  DatasetError,
  DEFAULT_RATING_TO_EVENT,
  loadClickCsv,
  loadMovieLens,
  movieLensStream,
} from '../../streams/sources/movielens.js';

// Compiled to dist/test/unit/, so the repo root is three levels up and the datasets sit beside it.
const REAL_ML_100K = fileURLToPath(new URL('../../../../shared/datasets/ml-100k', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'eddy-movielens-'));
after(() => rmSync(root, { recursive: true, force: true }));

let fixtureCount = 0;
/** A fresh directory holding `files`; strings are written in the encoding the format uses. */
function fixture(files: Record<string, string | Buffer>): string {
  const dir = join(root, `fixture-${++fixtureCount}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

function ml100k(overrides: Record<string, string | Buffer | null> = {}): string {
  const files: Record<string, string | Buffer | null> = {
    'u.genre': 'unknown|0\nAction|1\nComedy|2\n\n',
    // Latin-1, as the real file: "é" is the single byte 0xE9.
    'u.item': Buffer.from(
      [
        '1|Toy Story (1995)|01-01-1995||http://example.org/1|0|0|1',
        '2|Misérables, Les (1995)|01-01-1995||http://example.org/2|0|1|1',
        '3|Mystery Film (1996)|01-01-1996||http://example.org/3|1|0|0',
        '',
      ].join('\n'),
      'latin1',
    ),
    // Lines 2 and 4 share a timestamp: they must stay in file order after sorting.
    'u.data': ['10\t1\t5\t900', '11\t2\t3\t800', '10\t3\t1\t700', '12\t2\t4\t800', '11\t9\t2\t950'].join(
      '\n',
    ),
    ...overrides,
  };
  const present: Record<string, string | Buffer> = {};
  for (const [name, content] of Object.entries(files)) if (content !== null) present[name] = content;
  return fixture(present);
}

test('ml-100k: items with genre names, clicks stably sorted by time', () => {
  const data = loadMovieLens({ path: ml100k() });
  assert.equal(data.format, 'ml-100k');
  assert.deepEqual(
    data.items.map((i) => [i.itemId, i.title, i.categories]),
    [
      ['m1', 'Toy Story (1995)', ['Comedy']],
      ['m2', 'Misérables, Les (1995)', ['Action', 'Comedy']],
      ['m3', 'Mystery Film (1996)', []],
      // Rated but absent from u.item: kept so that every click's item is in the catalog.
      ['m9', 'unknown', []],
    ],
  );
  for (const item of data.items) {
    assert.equal(item.op, 'upsert');
    assert.equal(item.available, true);
    assert.deepEqual(item.tags, []);
    assert.equal(item.contentVector, null);
    assert.equal(item.updatedAt, 0);
  }
  assert.deepEqual(
    data.clicks.map((c) => [c.eventId, c.userId, c.itemId, c.type, c.eventTime, c.context.rating]),
    [
      ['ml-3', 'u10', 'm3', 'dislike', 700_000, '1'],
      ['ml-2', 'u11', 'm2', 'view', 800_000, '3'],
      ['ml-4', 'u12', 'm2', 'click', 800_000, '4'],
      ['ml-1', 'u10', 'm1', 'like', 900_000, '5'],
      ['ml-5', 'u11', 'm9', 'dislike', 950_000, '2'],
    ],
  );
  assert.ok(data.clicks.every((c) => c.sessionId === null));
});

test('ml-1m: :: separated, latin1, custom rating mapping', () => {
  const path = fixture({
    'movies.dat': Buffer.from(
      "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Café Society (1995)::Drama\n",
      'latin1',
    ),
    'ratings.dat': '1::2::5::978300760\r\n2::1::3::978300000\r\n',
  });
  const data = loadMovieLens({ path, ratingToEvent: (r) => (r >= 4 ? 'purchase' : 'view') });
  assert.equal(data.format, 'ml-1m');
  assert.deepEqual(
    data.items.map((i) => [i.itemId, i.title, i.categories]),
    [
      ['m1', 'Toy Story (1995)', ['Animation', "Children's", 'Comedy']],
      ['m2', 'Café Society (1995)', ['Drama']],
    ],
  );
  assert.deepEqual(
    data.clicks.map((c) => [c.eventId, c.userId, c.itemId, c.type, c.eventTime]),
    [
      ['ml-2', 'u2', 'm1', 'view', 978_300_000_000],
      ['ml-1', 'u1', 'm2', 'purchase', 978_300_760_000],
    ],
  );
});

test('ml-latest: CSV with header, quoted titles, half stars, no-genre marker', () => {
  const path = fixture({
    'movies.csv': [
      '\uFEFFmovieId,title,genres',
      '1,Toy Story (1995),Adventure|Animation',
      '2,"American President, The (1995)",Comedy|Drama|Romance',
      '3,"Movie ""Quoted"" Title (2001)",(no genres listed)',
      '4,Amélie (2001),Comedy|Romance',
      '',
    ].join('\r\n'),
    'ratings.csv': [
      'userId,movieId,rating,timestamp',
      '1,2,4.5,1000',
      '1,3,3.5,999',
      '2,1,0.5,1000',
      '3,4,2.5,5',
    ].join('\n'),
  });
  const data = loadMovieLens({ path });
  assert.equal(data.format, 'ml-latest');
  assert.deepEqual(
    data.items.map((i) => [i.itemId, i.title, i.categories]),
    [
      ['m1', 'Toy Story (1995)', ['Adventure', 'Animation']],
      ['m2', 'American President, The (1995)', ['Comedy', 'Drama', 'Romance']],
      ['m3', 'Movie "Quoted" Title (2001)', []],
      ['m4', 'Amélie (2001)', ['Comedy', 'Romance']],
    ],
  );
  // The header is line 1, so the first rating is ml-2.
  assert.deepEqual(
    data.clicks.map((c) => [c.eventId, c.userId, c.itemId, c.type, c.eventTime, c.context.rating]),
    [
      ['ml-5', 'u3', 'm4', 'view', 5_000, '2.5'],
      ['ml-3', 'u1', 'm3', 'click', 999_000, '3.5'],
      ['ml-2', 'u1', 'm2', 'like', 1_000_000, '4.5'],
      ['ml-4', 'u2', 'm1', 'dislike', 1_000_000, '0.5'],
    ],
  );
});

test('movieLensStream: the catalog first, then the clicks in time order', () => {
  const path = ml100k();
  const events = [...movieLensStream({ path })];
  const { items, clicks } = loadMovieLens({ path });
  assert.deepEqual(events, [
    ...items.map((event) => ({ kind: 'item', event })),
    ...clicks.map((event) => ({ kind: 'click', event })),
  ]);
});

test('DEFAULT_RATING_TO_EVENT maps stars to event types', () => {
  assert.deepEqual([5, 4, 3, 2, 1].map(DEFAULT_RATING_TO_EVENT), [
    'like',
    'click',
    'view',
    'dislike',
    'dislike',
  ]);
  assert.deepEqual([4.5, 3.5, 2.5, 1.5, 0.5].map(DEFAULT_RATING_TO_EVENT), [
    'like',
    'click',
    'view',
    'dislike',
    'dislike',
  ]);
});

function assertDatasetError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DatasetError, `expected a DatasetError, got ${String(error)}`);
    assert.ok(error instanceof EddyError);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" should mention "${fragment}"`);
    }
    return true;
  });
}

test('errors name the missing path, the missing file and the malformed line', () => {
  const missing = join(root, 'no-such-dir');
  assertDatasetError(() => loadMovieLens({ path: missing }), missing, 'not found');
  // Thrown at the call, so a caller can report it before starting a replay.
  assertDatasetError(() => movieLensStream({ path: missing }), missing);

  const empty = fixture({ 'README.txt': 'nothing here' });
  assertDatasetError(() => loadMovieLens({ path: empty }), 'u.data', 'ratings.dat', 'ratings.csv');
  assertDatasetError(() => loadMovieLens({ path: ml100k({ 'u.item': null }) }), 'missing u.item');
  assertDatasetError(() => loadMovieLens({ path: ml100k({ 'u.genre': null }) }), 'missing u.genre');
  assertDatasetError(() => loadMovieLens({ path: fixture({ 'ratings.dat': '' }) }), 'missing movies.dat');
  assertDatasetError(() => loadMovieLens({ path: fixture({ 'ratings.csv': '' }) }), 'missing movies.csv');

  assertDatasetError(
    () => loadMovieLens({ path: ml100k({ 'u.data': '1\t1\t5\t900\n2\t1\t4\t901\n3\tone\t4\t902\n' }) }),
    'u.data line 3',
    'malformed',
  );
  assertDatasetError(
    () => loadMovieLens({ path: ml100k({ 'u.item': '1|Short|01-01-1995||url|0|1\n' }) }),
    'u.item line 1',
    'expected 8',
  );
  assertDatasetError(
    () => loadMovieLens({ path: fixture({ 'movies.dat': '1::A::Drama\n', 'ratings.dat': '1::1::5\n' }) }),
    'ratings.dat line 1',
  );
  assertDatasetError(
    () =>
      loadMovieLens({
        path: fixture({
          'movies.csv': 'movieId,title,genres\n1,A,Drama\n',
          'ratings.csv': 'user,movie\n1,1\n',
        }),
      }),
    'ratings.csv line 1',
    'userId',
  );
  assertDatasetError(
    () =>
      loadMovieLens({
        path: fixture({
          'movies.csv': 'movieId,title,genres\n1,"Never closed,Drama\n',
          'ratings.csv': 'userId,movieId,rating,timestamp\n',
        }),
      }),
    'movies.csv line 2',
    'never closed',
  );
  assertDatasetError(
    () =>
      loadMovieLens({
        path: fixture({
          'movies.csv': 'movieId,title,genres\n1,A,Drama\n1,B,Comedy\n',
          'ratings.csv': 'userId,movieId,rating,timestamp\n',
        }),
      }),
    'movies.csv line 3',
    'twice',
  );
});

test('loadClickCsv: header lookup, quoted fields, time units, stable time order', () => {
  const path = join(
    fixture({
      'clicks.csv': [
        'ts,user,item,kind,note',
        '2.5,alice,"item,1",view,plain',
        '1,bob,item2,purchase,"two',
        'lines"',
        '2.5,carol,item3,like,"say ""hi"""',
        '',
      ].join('\n'),
    }),
    'clicks.csv',
  );
  const clicks = loadClickCsv({
    path,
    userColumn: 'user',
    itemColumn: 'item',
    timeColumn: 'ts',
    timeUnit: 's',
    typeColumn: 'kind',
  });
  assert.deepEqual(clicks, [
    {
      eventId: 'csv-3',
      userId: 'bob',
      itemId: 'item2',
      type: 'purchase',
      eventTime: 1_000,
      sessionId: null,
      context: {},
    },
    {
      eventId: 'csv-2',
      userId: 'alice',
      itemId: 'item,1',
      type: 'view',
      eventTime: 2_500,
      sessionId: null,
      context: {},
    },
    // Its record starts on line 5 because the quoted note of line 3 spans two lines.
    {
      eventId: 'csv-5',
      userId: 'carol',
      itemId: 'item3',
      type: 'like',
      eventTime: 2_500,
      sessionId: null,
      context: {},
    },
  ]);

  const tsv = join(fixture({ 'log.tsv': 'u\ti\tt\nx\ty\t1700000000123\n' }), 'log.tsv');
  const plain = loadClickCsv({
    path: tsv,
    userColumn: 'u',
    itemColumn: 'i',
    timeColumn: 't',
    timeUnit: 'ms',
    delimiter: '\t',
  });
  assert.equal(plain[0]?.type, 'click');
  assert.equal(plain[0]?.eventTime, 1_700_000_000_123);

  const options = { path, userColumn: 'user', itemColumn: 'item', timeColumn: 'ts', timeUnit: 's' } as const;
  assertDatasetError(
    () => loadClickCsv({ ...options, userColumn: 'who' }),
    '"who"',
    'ts, user, item, kind, note',
  );
  assertDatasetError(() => loadClickCsv({ ...options, timeColumn: 'note' }), 'line 2', 'not a number');
  assertDatasetError(() => loadClickCsv({ ...options, typeColumn: 'note' }), 'line 2', '"plain"');
  assertDatasetError(() => loadClickCsv({ ...options, path: join(root, 'absent.csv') }), 'absent.csv');
  const ragged = join(fixture({ 'r.csv': 'ts,user,item\n1,a,b\n2,a\n' }), 'r.csv');
  assertDatasetError(() => loadClickCsv({ ...options, path: ragged }), 'line 3', 'expected 3 fields');
});

test('the real ml-100k: 100,000 clicks, 1,682 items, 943 users, in time order', {
  skip: existsSync(REAL_ML_100K)
    ? false
    : `MovieLens 100K not found at ${REAL_ML_100K} (its licence forbids committing it); unpack it there to run this test`,
}, () => {
  const data = loadMovieLens({ path: REAL_ML_100K });
  assert.equal(data.format, 'ml-100k');
  assert.equal(data.clicks.length, 100_000);
  assert.equal(data.items.length, 1_682);
  assert.equal(new Set(data.clicks.map((c) => c.userId)).size, 943);
  const itemIds = new Set(data.items.map((i) => i.itemId));
  assert.equal(itemIds.size, 1_682);
  for (let i = 0; i < data.clicks.length; i++) {
    const c = data.clicks[i]!;
    assert.ok(itemIds.has(c.itemId), `${c.eventId}: ${c.itemId} not in the catalog`);
    if (i > 0) assert.ok(c.eventTime >= data.clicks[i - 1]!.eventTime, `${c.eventId} goes back in time`);
  }
  const toyStory = data.items.find((i) => i.itemId === 'm1');
  assert.deepEqual(toyStory?.categories, ['Animation', "Children's", 'Comedy']);
});

test('loadClickCsv: several files read as one log; equal times ordered by --then-by columns, then file order', () => {
  const dir = fixture({
    'train.tsv': ['SessionId\tItemId\tTime', '10\ta\t5', '9\tb\t5', '2\tc\t7', '10\td\t5'].join('\n'),
    'test.tsv': ['SessionId\tItemId\tTime', '1\te\t6', '9\tf\t5'].join('\n'),
  });
  const options = {
    path: [join(dir, 'train.tsv'), join(dir, 'test.tsv')],
    userColumn: 'SessionId',
    itemColumn: 'ItemId',
    timeColumn: 'Time',
    timeUnit: 's' as const,
    delimiter: '\t',
  };
  const order = (clicks: readonly { itemId: string }[]): string => clicks.map((c) => c.itemId).join('');
  // Time 5: sessions 9 (b; then f, the second file), then 10 — numerically, not as text — in file order.
  assert.equal(order(loadClickCsv({ ...options, thenBy: ['SessionId'] })), 'bfadec');
  // Without tie columns, equal times keep file order across the files.
  assert.equal(order(loadClickCsv(options)), 'abdfec');
  const ids = loadClickCsv(options).map((c) => c.eventId);
  assert.equal(new Set(ids).size, ids.length, 'event ids stay unique across files');
  assert.deepEqual(ids.slice(0, 2), ['csv-1-2', 'csv-1-3']);
});
