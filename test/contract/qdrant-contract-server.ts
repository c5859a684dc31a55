/**
 * A contract test server for Qdrant: a local node:http server that holds every request the real
 * @qdrant/js-client-rest sends to the Qdrant 1.19 server's own OpenAPI spec
 * (`../shared/qdrant/openapi-1.19.json` from the repository root, never copied into the repo), and
 * holds its own answers to the same spec, with openapi-backend (routing + ajv validation):
 *
 * - A request that matches no operation, or whose parameters or body fail the operation's schemas,
 *   is answered 404 / 400 and recorded in `violations`; tests assert there are none.
 * - The operations Eddy uses run against a small in-memory model (qdrant-model.ts): root, collection
 *   exists / get / create / delete / list, payload index, upsert, delete, count, batch query. Any
 *   other operation, or a feature of these the model does not implement, answers 501 and is
 *   recorded too, so nothing passes by accident.
 * - Every response body is validated against the operation's response schema for its status code;
 *   a mismatch is recorded (it would be the model, not the adapter, that is wrong).
 * - Faults: delays (client timeouts), error statuses (5xx, 429 with Retry-After), connection resets
 *   (before or after the request is applied), and going down (connections refused, as while Qdrant
 *   restarts), for the next N requests and/or a time window, optionally after K more requests and
 *   for chosen operations only (`inject`); or directly with `down(ms)` / `stopListening()` +
 *   `listenAgain()`.
 * - Optionally an API key, required in the `api-key` header as Qdrant does when configured with one.
 *
 * Workarounds for the spec (each minimal; the document itself passes openapi-backend's OpenAPI 3.0
 * validation, checked at start-up):
 * 1. `{ "nullable": true }` with no `type` appears 263 times, always as an `anyOf` branch meaning "or
 *    null" (Rust `Option`). That is valid OpenAPI 3.0, but ajv refuses to compile it ("nullable"
 *    cannot be used without "type"). Each such schema is replaced by `{ "enum": [null] }`, which is
 *    exactly "null". (Dropping the keyword instead would leave `{}`, which accepts anything and
 *    would silently switch off validation of every optional field.)
 * 2. Formats ajv does not know: `uint`, `uint8`, `uint32`, `uint64` (Rust integer widths) are added as
 *    non-negative integers within their width; `uuid` accepts the spellings Qdrant parses (hyphenated,
 *    simple, braced, urn); `date-time`, `partial-date-time` and `uri` are checked loosely (Eddy sends
 *    none). `int64`, `float` and `double` come with openapi-backend.
 * 3. openapi-backend runs in `quick` mode: compiling validators for all ~70 operations of the spec
 *    takes ~10 s per test process, so only the modelled operations' are compiled (~1 s, once per
 *    process, shared by every server in it); any other operation still routes and validates, compiled
 *    on first use. The definition check that quick mode skips is run explicitly instead.
 *
 * Found while building it: the 1.19 spec no longer has POST /collections/{name}/points/search (nor
 * /recommend, /discover), which the 1.18 client still offers as search() etc.; only the query API
 * remains, which is what the adapter uses (a test pins this).
 */

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type Context, OpenAPIBackend } from 'openapi-backend';
import { isObject, type Json, QdrantFailure, QdrantModel, Unsupported } from './qdrant-model.js';

/** The repository root: the first directory above this module holding a package.json. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return process.cwd();
      dir = parent;
    }
  }
}

export const QDRANT_SPEC_PATH = resolve(repositoryRoot(), '..', 'shared', 'qdrant', 'openapi-1.19.json');

/** `false` when the spec is readable, else the reason to skip (for `test(..., { skip })`). */
export function specUnavailable(): string | false {
  try {
    readFileSync(QDRANT_SPEC_PATH, { flag: 'r' });
    return false;
  } catch {
    return `Qdrant OpenAPI spec not found at ${QDRANT_SPEC_PATH}: contract tests need the Qdrant 1.19 spec there`;
  }
}

export type ViolationKind =
  | 'unknown_operation'
  | 'invalid_request'
  | 'invalid_response'
  | 'unsupported'
  | 'model_error';

export interface Violation {
  readonly kind: ViolationKind;
  readonly method: string;
  readonly path: string;
  readonly operationId?: string;
  readonly detail: string;
}

export type Fault =
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterSeconds?: number }
  /** `afterApplying`: the request takes effect, then the connection drops before the answer. */
  | { readonly kind: 'reset'; readonly afterApplying?: boolean }
  /** The request's connection drops and the server goes `down(ms)`: a Qdrant restart. */
  | { readonly kind: 'down'; readonly ms: number }
  /**
   * A write sent with `wait=true` answered HTTP 200 with status `wait_timeout`: Qdrant's own
   * deadline passed before the change applied. Modelled as not applied (yet) when answered.
   */
  | { readonly kind: 'wait_timeout' };

export interface FaultRule {
  readonly fault: Fault;
  /** Applies to this many matching requests (default 1 without `forMs`, unlimited with it). */
  readonly count?: number;
  /** Active for this long from the first request it applies to. */
  readonly forMs?: number;
  /** Lets this many matching requests through unharmed first. */
  readonly afterRequests?: number;
  /** Only these operations (operationIds such as 'upsert_points'); default: all. */
  readonly operations?: readonly string[];
}

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
  skip: number;
  endsAt: number | undefined;
}

interface Reply {
  readonly status: number;
  readonly body: Json;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a handler returns: an answer, or nothing when the connection was dropped instead. */
type Outcome = Reply | 'dropped';

interface Exchange {
  readonly contract: QdrantContractServer;
  readonly req: IncomingMessage;
  readonly started: number;
}

type ModelHandler = (c: Context, model: QdrantModel) => Json;

/** openapi-backend's own ajv (v8, nested in its node_modules; the top-level `ajv` is another major). */
type OpenApiAjv = Parameters<NonNullable<ConstructorParameters<typeof OpenAPIBackend>[0]['customizeAjv']>>[0];

const UINT_MAX: Readonly<Record<string, number>> = {
  uint: 2 ** 64 - 1,
  uint64: 2 ** 64 - 1,
  uint32: 2 ** 32 - 1,
  uint8: 255,
};

const UUID_SPELLINGS =
  /^(?:urn:uuid:)?(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}|[0-9a-f]{32})$/i;

/** Workaround 1 (see the header): `{ nullable: true }` alone → `{ enum: [null] }`; returns how many. */
function replaceBareNullable(node: unknown): number {
  let replaced = 0;
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = visit(value[i]);
      return value;
    }
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && record.nullable === true) {
      replaced++;
      return { enum: [null] };
    }
    for (const key of keys) record[key] = visit(record[key]);
    return record;
  };
  visit(node);
  return replaced;
}

/** Workaround 2 (see the header). */
function addFormats(ajv: OpenApiAjv): OpenApiAjv {
  for (const [name, max] of Object.entries(UINT_MAX)) {
    ajv.addFormat(name, {
      type: 'number',
      validate: (v: number) => Number.isInteger(v) && v >= 0 && v <= max,
    });
  }
  ajv.addFormat('uuid', UUID_SPELLINGS);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?$/);
  ajv.addFormat('partial-date-time', () => true);
  ajv.addFormat('uri', (v: string) => URL.canParse(v));
  return ajv;
}

function ok(result: Json, started: number): Reply {
  return { status: 200, body: { result, status: 'ok', time: (performance.now() - started) / 1000 } };
}

function failure(status: number, message: string, started: number): Reply {
  return {
    status,
    body: { status: { error: message }, time: (performance.now() - started) / 1000, result: null },
  };
}

function pathParam(c: Context, name: string): string {
  const value = c.request.params[name];
  return Array.isArray(value) ? String(value[0]) : String(value);
}

function body(c: Context): Json | undefined {
  return c.request.requestBody as Json | undefined;
}

/** Qdrant answers `completed` when asked to wait for the change to apply, `acknowledged` otherwise. */
function updateResult(c: Context, operationId: number): Json {
  const wait = c.request.query.wait;
  return { operation_id: operationId, status: String(wait) === 'true' ? 'completed' : 'acknowledged' };
}

/** The model operations, by the spec's operationIds. */
const MODEL_HANDLERS: Readonly<Record<string, ModelHandler>> = {
  root: () => ({ title: 'qdrant - vector search engine', version: '1.19.0', commit: 'contract-model' }),
  get_collections: (_c, m) => ({ collections: [...m.collections.keys()].map((name) => ({ name })) }),
  collection_exists: (c, m) => ({ exists: m.collections.has(pathParam(c, 'collection_name')) }),
  get_collection: (c, m) => m.collectionInfo(pathParam(c, 'collection_name')),
  create_collection: (c, m) => {
    m.createCollection(pathParam(c, 'collection_name'), body(c));
    return true;
  },
  delete_collection: (c, m) => m.collections.delete(pathParam(c, 'collection_name')),
  create_field_index: (c, m) => {
    m.createFieldIndex(pathParam(c, 'collection_name'), body(c));
    return updateResult(c, m.nextOperation());
  },
  upsert_points: (c, m) => updateResult(c, m.upsert(pathParam(c, 'collection_name'), body(c))),
  delete_points: (c, m) => updateResult(c, m.delete(pathParam(c, 'collection_name'), body(c))),
  count_points: (c, m) => ({ count: m.count(pathParam(c, 'collection_name'), body(c)) }),
  query_batch_points: (c, m) => {
    const name = pathParam(c, 'collection_name');
    const request = body(c);
    const searches = isObject(request) ? request.searches : undefined;
    if (!Array.isArray(searches)) throw new Unsupported('query_batch_points: no searches');
    return searches.map((search) => m.query(name, search));
  },
};

export interface ContractServerOptions {
  /** When set, requests must carry it in the `api-key` header (401 otherwise, as Qdrant). */
  readonly apiKey?: string;
}

export class QdrantContractServer {
  readonly model = new QdrantModel();
  readonly violations: Violation[] = [];
  /** Requests answered per operationId (including faulted ones). */
  readonly requests = new Map<string, number>();
  /** Faults applied, by kind. */
  readonly faultsApplied = { delay: 0, status: 0, reset: 0, down: 0, waitTimeout: 0 };
  /** Settles when the last `down` fault's outage is over. */
  outage: Promise<void> = Promise.resolve();
  private readonly rules: ActiveRule[] = [];
  private port = 0;

  private static backend: Promise<OpenAPIBackend> | undefined;

  private constructor(
    private readonly api: OpenAPIBackend,
    private readonly server: Server,
    private readonly options: ContractServerOptions,
  ) {}

  static async start(options: ContractServerOptions = {}): Promise<QdrantContractServer> {
    QdrantContractServer.backend ??= QdrantContractServer.loadBackend();
    const api = await QdrantContractServer.backend;
    const server = createServer();
    const contract = new QdrantContractServer(api, server, options);
    server.on('request', (req, res) => void contract.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    contract.port = (server.address() as AddressInfo).port;
    return contract;
  }

  /**
   * The spec, loaded and compiled once per process and shared by every server in it (each request
   * carries its server in the exchange). The validators of the modelled operations are compiled up
   * front (~1 s): compiled lazily, the first request of each would take long enough to trip a
   * client timeout.
   */
  private static async loadBackend(): Promise<OpenAPIBackend> {
    const definition: unknown = JSON.parse(readFileSync(QDRANT_SPEC_PATH, 'utf8'));
    replaceBareNullable(definition);
    const api = new OpenAPIBackend({
      definition: definition as ConstructorParameters<typeof OpenAPIBackend>[0]['definition'],
      quick: true,
      strict: true,
      validate: true,
      customizeAjv: (ajv) => addFormats(ajv),
    });
    await api.init();
    // Workaround 3: the check quick mode skips. Throws if the (rewritten) document is not OpenAPI 3.0.
    await api.loadDocument();
    api.validateDefinition();
    for (const operationId of Object.keys(MODEL_HANDLERS)) {
      api.validator.getRequestValidatorsForOperation(operationId);
      api.validator.getStatusBasedResponseValidatorForOperation(operationId);
    }
    QdrantContractServer.register(api);
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Adds a fault rule; rules are consulted in the order added, the first that applies wins. */
  inject(rule: FaultRule): void {
    const remaining = rule.count ?? (rule.forMs === undefined ? 1 : Number.POSITIVE_INFINITY);
    this.rules.push({ rule, remaining, skip: rule.afterRequests ?? 0, endsAt: undefined });
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  /** Rules not yet used up or expired. */
  get pendingFaults(): number {
    const now = performance.now();
    return this.rules.filter((r) => r.remaining > 0 && (r.endsAt === undefined || now < r.endsAt)).length;
  }

  /**
   * Stops listening and drops every connection for `ms` (clients see ECONNREFUSED), then listens on
   * the same port again; resolves once it is back.
   */
  async down(ms: number): Promise<void> {
    await this.stopListening();
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.listenAgain();
  }

  /** Stops listening and drops every connection, until `listenAgain()`. */
  async stopListening(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  async listenAgain(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  /** Points of a collection as the model holds them: Eddy id (payload `eddy_id`) → payload. */
  eddyPoints(collection: string): Map<string, Readonly<Record<string, Json>>> {
    const out = new Map<string, Readonly<Record<string, Json>>>();
    const c = this.model.collections.get(collection);
    for (const point of c?.points.values() ?? []) {
      const id = point.payload.eddy_id;
      if (typeof id === 'string') out.set(id, point.payload);
    }
    return out;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private record(violation: Violation): void {
    this.violations.push(violation);
  }

  private static register(api: OpenAPIBackend): void {
    type Handler = (c: Context, exchange: Exchange) => Promise<Outcome> | Outcome;
    const handlers: Record<string, Handler> = {};
    for (const [operationId, handler] of Object.entries(MODEL_HANDLERS)) {
      handlers[operationId] = (c, exchange) =>
        exchange.contract.runOperation(operationId, handler, c, exchange);
    }
    const violation =
      (kind: ViolationKind, status: number, detail: (c: Context) => string): Handler =>
      (c, exchange) => {
        const text = detail(c);
        exchange.contract.record({
          kind,
          method: c.request.method,
          path: c.request.path,
          ...(c.operation?.operationId ? { operationId: c.operation.operationId } : {}),
          detail: text,
        });
        return failure(status, `${kind}: ${text}`, exchange.started);
      };
    api.register({
      ...handlers,
      notFound: violation(
        'unknown_operation',
        404,
        () => 'no operation of the spec matches this method and path',
      ),
      methodNotAllowed: violation(
        'unknown_operation',
        404,
        () => 'the spec has this path but not this method',
      ),
      validationFail: violation('invalid_request', 400, (c) =>
        JSON.stringify(c.validation.errors?.slice(0, 5) ?? []),
      ),
      notImplemented: violation(
        'unsupported',
        501,
        () => 'operation in the spec but not in the contract model',
      ),
    });
  }

  private async runOperation(
    operationId: string,
    handler: ModelHandler,
    c: Context,
    exchange: Exchange,
  ): Promise<Outcome> {
    this.requests.set(operationId, (this.requests.get(operationId) ?? 0) + 1);
    if (this.options.apiKey !== undefined && c.request.headers['api-key'] !== this.options.apiKey) {
      return failure(
        401,
        'Unauthorized: Must provide an API key or an Authorization bearer token',
        exchange.started,
      );
    }
    const fault = this.nextFault(operationId);
    if (fault?.kind === 'delay') {
      this.faultsApplied.delay++;
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
    } else if (fault?.kind === 'status') {
      this.faultsApplied.status++;
      const reply = failure(
        fault.status,
        `Service internal error: injected ${fault.status}`,
        exchange.started,
      );
      return fault.retryAfterSeconds === undefined
        ? reply
        : { ...reply, headers: { 'retry-after': String(fault.retryAfterSeconds) } };
    } else if (fault?.kind === 'down') {
      this.faultsApplied.down++;
      exchange.req.socket.destroy();
      this.outage = this.down(fault.ms);
      return 'dropped';
    } else if (fault?.kind === 'wait_timeout') {
      this.faultsApplied.waitTimeout++;
      return ok({ operation_id: 0, status: 'wait_timeout' }, exchange.started);
    } else if (fault?.kind === 'reset' && !fault.afterApplying) {
      this.faultsApplied.reset++;
      exchange.req.socket.destroy();
      return 'dropped';
    }
    let reply: Reply;
    try {
      const result = handler(c, this.model);
      // GET / answers its VersionInfo bare; every other operation wraps its result.
      reply = operationId === 'root' ? { status: 200, body: result } : ok(result, exchange.started);
    } catch (error) {
      if (error instanceof QdrantFailure) {
        reply = failure(error.status, error.message, exchange.started);
      } else {
        const unsupported = error instanceof Unsupported;
        this.record({
          kind: unsupported ? 'unsupported' : 'model_error',
          method: c.request.method,
          path: c.request.path,
          operationId,
          detail: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        reply = failure(unsupported ? 501 : 500, `contract model: ${String(error)}`, exchange.started);
      }
    }
    if (fault?.kind === 'reset') {
      this.faultsApplied.reset++;
      exchange.req.socket.destroy();
      return 'dropped';
    }
    return reply;
  }

  private nextFault(operationId: string): Fault | undefined {
    const now = performance.now();
    for (let i = 0; i < this.rules.length; i++) {
      const active = this.rules[i]!;
      const { rule } = active;
      if (rule.operations !== undefined && !rule.operations.includes(operationId)) continue;
      if (active.endsAt !== undefined && now >= active.endsAt) continue;
      if (active.remaining <= 0) continue;
      if (active.skip > 0) {
        active.skip--;
        continue;
      }
      if (active.endsAt === undefined && rule.forMs !== undefined) active.endsAt = now + rule.forMs;
      active.remaining--;
      return rule.fault;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return;
    }
    const url = new URL(req.url ?? '/', 'http://contract');
    const raw = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown = raw.length > 0 ? raw : undefined;
    if (raw.length > 0) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        // Left as text: openapi-backend reports malformed JSON as a validation failure.
      }
    }
    const request = {
      method: (req.method ?? 'GET').toLowerCase(),
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      headers: req.headers as Record<string, string | string[]>,
      body: parsed,
    };
    let outcome: Outcome;
    let operationId: string | undefined;
    try {
      const exchange: Exchange = { contract: this, req, started };
      operationId = this.api.router.matchOperation(request)?.operationId;
      outcome = (await this.api.handleRequest(request, exchange)) as Outcome;
    } catch (error) {
      this.record({
        kind: 'model_error',
        method: request.method,
        path: request.path,
        detail: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      outcome = failure(500, `contract server: ${String(error)}`, started);
    }
    if (outcome === 'dropped') return;
    if (operationId !== undefined) {
      const check = this.api.validator.validateResponse(outcome.body, operationId, outcome.status);
      if (!check.valid) {
        this.record({
          kind: 'invalid_response',
          method: request.method,
          path: request.path,
          operationId,
          detail: JSON.stringify(check.errors?.slice(0, 5) ?? []),
        });
      }
    }
    if (res.destroyed) return;
    const text = JSON.stringify(outcome.body);
    res.writeHead(outcome.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...outcome.headers,
    });
    res.end(text);
  }
}
