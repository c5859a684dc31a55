import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { EddyError } from '../errors.js';
import { type ClickEvent, EVENT_TYPES, type EventType, type ItemEvent } from '../model/events.js';
import type { StreamEvent } from './stream-event.js';

/**
 * A dataset that cannot be read: the message names the path, the missing file or the file and
 * line that is malformed, because the fix is always in the data, never in Eddy.
 */
export class DatasetError extends EddyError {
  override readonly name = 'DatasetError';
}

export interface MovieLensOptions {
  /** The unpacked dataset directory, e.g. `../shared/datasets/ml-100k`. */
  path: string;
  ratingToEvent?: (rating: number) => EventType;
}

export type MovieLensFormat = 'ml-100k' | 'ml-1m' | 'ml-latest';

export interface MovieLensData {
  items: ItemEvent[];
  clicks: ClickEvent[];
  format: MovieLensFormat;
}

/**
 * 5 → `like`, 4 → `click`, 3 → `view`, 2 and 1 → `dislike`. Half stars (ml-latest) round half up
 * first, so 4.5 is a `like` and 0.5 a `dislike`.
 */
export const DEFAULT_RATING_TO_EVENT = (rating: number): EventType => {
  const stars = Math.round(rating);
  if (stars >= 5) return 'like';
  if (stars === 4) return 'click';
  if (stars === 3) return 'view';
  return 'dislike';
};

const VALID_EVENT_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

/**
 * Reads a MovieLens directory, recognised by its ratings file:
 * - ml-100k: `u.data` (tab-separated user, item, rating, unix seconds), `u.item` (`|`-separated,
 *   latin1, 19 genre flags) and `u.genre` (`name|index`);
 * - ml-1m (and ml-10m): `ratings.dat` and `movies.dat` (`::`-separated, latin1, `|` genres);
 * - ml-latest, ml-25m and friends: `ratings.csv` and `movies.csv` (UTF-8, header row, quoted titles).
 *
 * Items come in catalog-file order: title, genres as categories (the ml-100k `unknown` flag and
 * ml-latest's `(no genres listed)` are dropped), no tags, available, no content vector, `updatedAt` 0.
 * A movie that is rated but missing from the catalog file is appended after them, in order of its
 * first rating, titled `unknown` with no categories.
 *
 * Clicks are sorted by event time with a stable sort, so ratings with equal timestamps keep their
 * file order (the only order the dataset gives them). `eventId` is `ml-<line>` with the 1-based
 * line number in the ratings file (a CSV's header is line 1), users are `u<id>`, items `m<id>`,
 * `sessionId` is null and `context` is `{ rating }` as written by `String(rating)`.
 *
 * Everything is held in memory (roughly 0.3 KB per rating): fine up to ml-1m or ml-latest-small,
 * too much for ml-25m on a default heap. Throws DatasetError for a missing path or file, a
 * malformed line or a movie id listed twice.
 */
export function loadMovieLens(options: MovieLensOptions): MovieLensData {
  const toEvent = checkedRatingToEvent(options.ratingToEvent ?? DEFAULT_RATING_TO_EVENT);
  const dir = options.path;
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(dir);
  } catch {
    throw new DatasetError(
      `MovieLens dataset not found at ${dir}. Its licence forbids redistribution, so it is not in the ` +
        'repository: download it from https://grouplens.org/datasets/movielens/ and unpack it there.',
    );
  }
  if (!stats.isDirectory()) {
    throw new DatasetError(`MovieLens path ${dir} is a file; expected the unpacked dataset directory`);
  }
  if (isFile(join(dir, 'u.data'))) return loadMl100k(dir, toEvent);
  if (isFile(join(dir, 'ratings.dat'))) return loadMl1m(dir, toEvent);
  if (isFile(join(dir, 'ratings.csv'))) return loadMlLatest(dir, toEvent);
  throw new DatasetError(
    `${dir} is not a MovieLens directory: expected u.data (ml-100k), ratings.dat (ml-1m) or ` +
      'ratings.csv (ml-latest, ml-25m)',
  );
}

/**
 * The catalog (every item, as one `upsert` each) then the clicks in time order. The files are read
 * when this function is called, so a DatasetError is thrown here rather than on the first `next()`.
 */
export function movieLensStream(options: MovieLensOptions): Generator<StreamEvent> {
  const { items, clicks } = loadMovieLens(options);
  return (function* (): Generator<StreamEvent> {
    for (const event of items) yield { kind: 'item', event };
    for (const event of clicks) yield { kind: 'click', event };
  })();
}

export interface ClickCsvOptions {
  /** One file, or several read as one log (each with its own header row, in the order given). */
  path: string | readonly string[];
  userColumn: string;
  itemColumn: string;
  timeColumn: string;
  /** Unit of the time column; fractional seconds are kept to the millisecond. */
  timeUnit: 'ms' | 's';
  /** Defaults to `,`. */
  delimiter?: string;
  /** A column holding one of EVENT_TYPES; without it every row is a `click`. */
  typeColumn?: string;
  /**
   * Columns that order rows with equal times, in turn (compared as numbers when both values are
   * numbers, else as strings), before file order: e.g. a session id, then an in-session offset.
   */
  thenBy?: readonly string[];
}

/**
 * Reads a generic click log: UTF-8 CSV with a header row, fields optionally quoted (`""` escapes a
 * quote, quoted fields may span lines). Ids are taken verbatim; `eventId` is `csv-<line>` (1-based,
 * the header is line 1; `csv-<file>-<line>` with several files), `sessionId` null, `context` empty.
 * Sorted by time, equal times by the `thenBy` columns, then by file order (files in the order
 * given, rows in file order: the sort is stable).
 */
export function loadClickCsv(options: ClickCsvOptions): ClickEvent[] {
  const paths = typeof options.path === 'string' ? [options.path] : [...options.path];
  if (paths.length === 0) throw new DatasetError('loadClickCsv: no file given');
  const rows: { click: ClickEvent; ties: readonly string[] }[] = [];
  paths.forEach((path, file) => {
    readClickCsv(path, paths.length > 1 ? `csv-${file + 1}-` : 'csv-', options, (click, ties) =>
      rows.push({ click, ties }),
    );
  });
  rows.sort((a, b) => a.click.eventTime - b.click.eventTime || compareTies(a.ties, b.ties));
  return rows.map((row) => row.click);
}

function compareTies(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    const nx = Number(x);
    const ny = Number(y);
    if (x.trim() !== '' && y.trim() !== '' && Number.isFinite(nx) && Number.isFinite(ny) && nx !== ny) {
      return nx - ny;
    }
    return x < y ? -1 : 1;
  }
  return 0;
}

function readClickCsv(
  path: string,
  idPrefix: string,
  options: ClickCsvOptions,
  emit: (click: ClickEvent, ties: readonly string[]) => void,
): void {
  const { timeUnit } = options;
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length === 0 || /["\r\n]/.test(delimiter)) {
    throw new RangeError(
      `loadClickCsv: delimiter must be non-empty without quotes or newlines, got ${JSON.stringify(delimiter)}`,
    );
  }
  if (!isFile(path)) throw new DatasetError(`click log not found: ${path} does not exist or is not a file`);
  let columns: {
    user: number;
    item: number;
    time: number;
    type: number;
    ties: number[];
    count: number;
  } | null = null;
  forEachCsvRecord(path, 'utf8', delimiter, (fields, line) => {
    if (columns === null) {
      const find = (name: string): number => headerColumn(path, line, fields, name);
      columns = {
        user: find(options.userColumn),
        item: find(options.itemColumn),
        time: find(options.timeColumn),
        type: options.typeColumn === undefined ? -1 : find(options.typeColumn),
        ties: (options.thenBy ?? []).map(find),
        count: fields.length,
      };
      return;
    }
    if (fields.length !== columns.count) {
      throw malformed(path, line, `expected ${columns.count} fields like the header, got ${fields.length}`);
    }
    const userId = fields[columns.user]!.trim();
    const itemId = fields[columns.item]!.trim();
    if (userId === '') throw malformed(path, line, `empty ${options.userColumn}`);
    if (itemId === '') throw malformed(path, line, `empty ${options.itemColumn}`);
    const timeText = fields[columns.time]!.trim();
    const time = timeText === '' ? Number.NaN : Number(timeText);
    if (!Number.isFinite(time)) {
      throw malformed(path, line, `${options.timeColumn} is not a number: ${JSON.stringify(timeText)}`);
    }
    let type: EventType = 'click';
    if (columns.type >= 0) {
      const text = fields[columns.type]!.trim();
      if (!isEventType(text)) {
        throw malformed(
          path,
          line,
          `${options.typeColumn} ${JSON.stringify(text)} is not one of ${EVENT_TYPES.join(', ')}`,
        );
      }
      type = text;
    }
    emit(
      {
        eventId: `${idPrefix}${line}`,
        userId,
        itemId,
        type,
        eventTime: timeUnit === 's' ? Math.round(time * 1000) : Math.round(time),
        sessionId: null,
        context: {},
      },
      columns.ties.map((c) => fields[c]!.trim()),
    );
  });
  if (columns === null) throw new DatasetError(`${path} is empty: expected a header row`);
}

// ---------------------------------------------------------------------------------------------

type RatingToEvent = (rating: number) => EventType;

function loadMl100k(dir: string, toEvent: RatingToEvent): MovieLensData {
  const genreFile = requireFile(dir, 'u.genre', 'ml-100k', 'the genre names');
  const itemFile = requireFile(dir, 'u.item', 'ml-100k', 'the movie catalog');
  const dataFile = join(dir, 'u.data');

  const genreByIndex: string[] = [];
  forEachLine(genreFile, 'latin1', (line, n) => {
    if (line.trim() === '') return;
    const fields = line.split('|');
    const index = fields.length === 2 ? parseId(fields[1]!) : null;
    // The bound keeps a corrupt index from allocating a huge sparse table.
    if (fields.length !== 2 || index === null || index > 1000 || fields[0]!.trim() === '') {
      throw malformed(genreFile, n, `expected "name|index"`, line);
    }
    genreByIndex[index] = fields[0]!.trim();
  });
  const genreCount = genreByIndex.length;
  for (let g = 0; g < genreCount; g++) {
    if (genreByIndex[g] === undefined) throw new DatasetError(`${genreFile}: no genre with index ${g}`);
  }

  const catalog = new Catalog();
  const expectedFields = 5 + genreCount;
  forEachLine(itemFile, 'latin1', (line, n) => {
    if (line.trim() === '') return;
    const fields = line.split('|');
    const id = parseId(fields[0] ?? '');
    if (fields.length !== expectedFields || id === null) {
      throw malformed(
        itemFile,
        n,
        `expected ${expectedFields} |-separated fields (id, title, release date, video release, url and ` +
          `${genreCount} genre flags), got ${fields.length}`,
        line,
      );
    }
    const categories: string[] = [];
    for (let g = 0; g < genreCount; g++) {
      const flag = fields[5 + g]!.trim();
      if (flag !== '0' && flag !== '1')
        throw malformed(itemFile, n, `genre flag ${g} is ${JSON.stringify(flag)}`, line);
      const name = genreByIndex[g]!;
      if (flag === '1' && name.toLowerCase() !== 'unknown') categories.push(name);
    }
    catalog.add(itemFile, n, id, fields[1]!.trim(), categories);
  });

  const clicks: ClickEvent[] = [];
  const ids = new IdStrings();
  forEachLine(dataFile, 'latin1', (line, n) => {
    if (line.trim() === '') return;
    const fields = line.trim().split(/\s+/);
    const rating = fields.length === 4 ? parseRating(fields, n, catalog, ids, toEvent) : null;
    if (rating === null) {
      throw malformed(
        dataFile,
        n,
        'expected 4 tab-separated fields (user id, item id, rating, unix seconds)',
        line,
      );
    }
    clicks.push(rating);
  });
  return { items: catalog.items, clicks: sortByTime(clicks), format: 'ml-100k' };
}

function loadMl1m(dir: string, toEvent: RatingToEvent): MovieLensData {
  const movieFile = requireFile(dir, 'movies.dat', 'ml-1m', 'the movie catalog');
  const ratingFile = join(dir, 'ratings.dat');

  const catalog = new Catalog();
  forEachLine(movieFile, 'latin1', (line, n) => {
    if (line.trim() === '') return;
    const fields = line.split('::');
    const id = parseId(fields[0] ?? '');
    if (fields.length !== 3 || id === null) {
      throw malformed(movieFile, n, 'expected "MovieID::Title::Genre|Genre"', line);
    }
    catalog.add(movieFile, n, id, fields[1]!.trim(), splitGenres(fields[2]!));
  });

  const clicks: ClickEvent[] = [];
  const ids = new IdStrings();
  forEachLine(ratingFile, 'latin1', (line, n) => {
    if (line.trim() === '') return;
    const fields = line.split('::');
    const rating = fields.length === 4 ? parseRating(fields, n, catalog, ids, toEvent) : null;
    if (rating === null)
      throw malformed(ratingFile, n, 'expected "UserID::MovieID::Rating::Timestamp"', line);
    clicks.push(rating);
  });
  return { items: catalog.items, clicks: sortByTime(clicks), format: 'ml-1m' };
}

function loadMlLatest(dir: string, toEvent: RatingToEvent): MovieLensData {
  const movieFile = requireFile(dir, 'movies.csv', 'ml-latest', 'the movie catalog');
  const ratingFile = join(dir, 'ratings.csv');

  const catalog = new Catalog();
  let movieColumns: { id: number; title: number; genres: number } | null = null;
  forEachCsvRecord(movieFile, 'utf8', ',', (fields, n) => {
    if (movieColumns === null) {
      movieColumns = {
        id: headerColumn(movieFile, n, fields, 'movieId'),
        title: headerColumn(movieFile, n, fields, 'title'),
        genres: headerColumn(movieFile, n, fields, 'genres'),
      };
      return;
    }
    const id = parseId(fields[movieColumns.id] ?? '');
    const title = fields[movieColumns.title];
    const genres = fields[movieColumns.genres];
    if (id === null || title === undefined || genres === undefined) {
      throw malformed(movieFile, n, 'expected movieId,title,genres', fields.join(','));
    }
    catalog.add(movieFile, n, id, title.trim(), splitGenres(genres));
  });
  if (movieColumns === null) throw new DatasetError(`${movieFile} is empty: expected a header row`);

  const clicks: ClickEvent[] = [];
  const ids = new IdStrings();
  let ratingColumns: number[] | null = null;
  forEachCsvRecord(ratingFile, 'utf8', ',', (fields, n) => {
    if (ratingColumns === null) {
      ratingColumns = ['userId', 'movieId', 'rating', 'timestamp'].map((name) =>
        headerColumn(ratingFile, n, fields, name),
      );
      return;
    }
    const ordered = ratingColumns.map((c) => fields[c] ?? '');
    const rating = ratingColumns.every((c) => c < fields.length)
      ? parseRating(ordered, n, catalog, ids, toEvent)
      : null;
    if (rating === null)
      throw malformed(ratingFile, n, 'expected userId,movieId,rating,timestamp', fields.join(','));
    clicks.push(rating);
  });
  if (ratingColumns === null) throw new DatasetError(`${ratingFile} is empty: expected a header row`);
  return { items: catalog.items, clicks: sortByTime(clicks), format: 'ml-latest' };
}

/** Items in file order, indexed by numeric id so every rating can be checked against the catalog. */
class Catalog {
  readonly items: ItemEvent[] = [];
  private readonly known = new Set<number>();

  add(file: string, line: number, id: number, title: string, categories: string[]): void {
    if (this.known.has(id)) throw new DatasetError(`${file} line ${line}: movie id ${id} appears twice`);
    this.known.add(id);
    this.items.push({
      itemId: `m${id}`,
      op: 'upsert',
      title,
      categories,
      tags: [],
      available: true,
      contentVector: null,
      updatedAt: 0,
    });
  }

  has(id: number): boolean {
    return this.known.has(id);
  }

  /**
   * Some copies of ml-100k lack the catalog row of movie 267 (titled "unknown" in the original)
   * while its ratings remain; a bare entry keeps every click's item in the catalog without
   * rejecting the whole dataset.
   */
  addPlaceholder(id: number): void {
    this.add('', 0, id, 'unknown', []);
  }
}

/** One string per id: a million ratings then share ~10k id strings instead of holding 2M copies. */
class IdStrings {
  private readonly users = new Map<number, string>();
  private readonly items = new Map<number, string>();
  private readonly ratings = new Map<number, string>();

  user(id: number): string {
    return intern(this.users, id, 'u');
  }

  item(id: number): string {
    return intern(this.items, id, 'm');
  }

  rating(value: number): string {
    return intern(this.ratings, value, '');
  }
}

function intern(map: Map<number, string>, key: number, prefix: string): string {
  let s = map.get(key);
  if (s === undefined) {
    s = `${prefix}${key}`;
    map.set(key, s);
  }
  return s;
}

/** `fields` are user, item, rating, seconds; null when any is not a number of the right kind. */
function parseRating(
  fields: readonly string[],
  line: number,
  catalog: Catalog,
  ids: IdStrings,
  toEvent: RatingToEvent,
): ClickEvent | null {
  const user = parseId(fields[0]!);
  const item = parseId(fields[1]!);
  const ratingText = fields[2]!.trim();
  const rating = ratingText === '' ? Number.NaN : Number(ratingText);
  const seconds = parseId(fields[3]!);
  if (user === null || item === null || !Number.isFinite(rating) || seconds === null) return null;
  if (!catalog.has(item)) catalog.addPlaceholder(item);
  return {
    eventId: `ml-${line}`,
    userId: ids.user(user),
    itemId: ids.item(item),
    type: toEvent(rating),
    eventTime: seconds * 1000,
    sessionId: null,
    context: { rating: ids.rating(rating) },
  };
}

/** A non-negative integer written in decimal digits, or null. */
function parseId(text: string): number | null {
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) return null;
  return Number(t);
}

function splitGenres(text: string): string[] {
  return text
    .split('|')
    .map((g) => g.trim())
    .filter((g) => g !== '' && g !== '(no genres listed)');
}

function checkedRatingToEvent(map: RatingToEvent): RatingToEvent {
  // A custom mapping from plain JavaScript could return anything; fail on the first bad value.
  return (rating) => {
    const type = map(rating);
    if (!VALID_EVENT_TYPES.has(type)) {
      throw new TypeError(
        `ratingToEvent(${rating}) returned ${JSON.stringify(type)}, not one of ${EVENT_TYPES.join(', ')}`,
      );
    }
    return type;
  };
}

function isEventType(text: string): text is EventType {
  return VALID_EVENT_TYPES.has(text);
}

function sortByTime(clicks: ClickEvent[]): ClickEvent[] {
  // Array.prototype.sort is stable (ES2019), which is what keeps equal timestamps in file order.
  return clicks.sort((a, b) => a.eventTime - b.eventTime);
}

function headerColumn(file: string, line: number, header: readonly string[], name: string): number {
  const index = header.findIndex((h) => h.trim() === name);
  if (index < 0) {
    throw new DatasetError(
      `${file} line ${line}: no column ${JSON.stringify(name)} in the header (columns: ${header.join(', ')})`,
    );
  }
  return index;
}

function malformed(file: string, line: number, expected: string, text?: string): DatasetError {
  const shown =
    text === undefined ? '' : `: ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)}`;
  return new DatasetError(`${file} line ${line} is malformed: ${expected}${shown}`);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function requireFile(dir: string, name: string, format: MovieLensFormat, holds: string): string {
  const path = join(dir, name);
  if (!isFile(path)) {
    throw new DatasetError(`${format} dataset at ${dir} is missing ${name} (${holds}): expected ${path}`);
  }
  return path;
}

/**
 * Calls `onLine` for every line (without its `\n` or `\r\n`), 1-based. Reads in 1 MiB chunks, so
 * files beyond V8's maximum string length (ml-25m's ratings.csv) can be read at all.
 */
function forEachLine(
  file: string,
  encoding: 'utf8' | 'latin1',
  onLine: (line: string, lineNumber: number) => void,
): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new DatasetError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    // The decoder holds back a multi-byte UTF-8 character split across two chunks.
    const decoder = new StringDecoder(encoding);
    let carry = '';
    let lineNumber = 0;
    for (;;) {
      const bytes = readSync(fd, buffer, 0, buffer.length, null);
      if (bytes === 0) break;
      const text = carry + decoder.write(buffer.subarray(0, bytes));
      let start = 0;
      for (;;) {
        const newline = text.indexOf('\n', start);
        if (newline < 0) break;
        const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
        onLine(text.slice(start, end), ++lineNumber);
        start = newline + 1;
      }
      carry = text.slice(start);
    }
    const rest = carry + decoder.end();
    if (rest !== '') onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++lineNumber);
  } finally {
    closeSync(fd);
  }
}

/** Longest record a quoted field may spread over before an unbalanced quote is reported. */
const MAX_RECORD_CHARS = 1 << 20;

/**
 * Calls `onRecord` for every non-blank CSV record with the line number it starts on. A quoted field
 * may contain the delimiter, `""` for a quote, and newlines (the record then spans lines).
 */
function forEachCsvRecord(
  file: string,
  encoding: 'utf8' | 'latin1',
  delimiter: string,
  onRecord: (fields: string[], lineNumber: number) => void,
): void {
  let pending = '';
  let pendingLine = 0;
  let first = true;
  forEachLine(file, encoding, (line, n) => {
    let text = line;
    if (first) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (pending !== '') {
      text = `${pending}\n${text}`;
    } else {
      if (text.trim() === '') return;
      pendingLine = n;
    }
    const fields = splitCsvRecord(text, delimiter);
    if (fields === null) {
      if (text.length > MAX_RECORD_CHARS) {
        throw new DatasetError(`${file} line ${pendingLine}: a quoted field is never closed`);
      }
      pending = text;
      return;
    }
    pending = '';
    onRecord(fields, pendingLine);
  });
  if (pending !== '') throw new DatasetError(`${file} line ${pendingLine}: a quoted field is never closed`);
}

/** Splits one record; null when a quoted field is still open at the end of `text`. */
function splitCsvRecord(text: string, delimiter: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let field = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) return null;
        field += text.slice(i, quote);
        if (text.charCodeAt(quote + 1) === 34) {
          field += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      // Anything between the closing quote and the delimiter is kept, as lenient readers do.
      const next = text.indexOf(delimiter, i);
      if (next < 0) {
        fields.push(field + text.slice(i));
        return fields;
      }
      fields.push(field + text.slice(i, next));
      i = next + delimiter.length;
    } else {
      const next = text.indexOf(delimiter, i);
      if (next < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, next));
      i = next + delimiter.length;
    }
  }
}
