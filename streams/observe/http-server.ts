import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import { MAX_QUERY_LIMIT, type QueryAnswer, type UserQueries } from '../serve/user-queries.js';

export interface HealthState {
  /** Alive: the process is not wedged. */
  live(): boolean;
  /** Ready: state restored and dependencies connected, so lists are being produced. */
  ready(): boolean;
}

/** Where /metrics comes from: a prom-client Registry, or an aggregate of several. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * Serves /metrics, /healthz (liveness), /readyz (readiness) and, given `queries`, the interactive
 * query API under /v1 (docs/openapi.json). Without `queries`, `redirectQueries` may name where a
 * /v1 request is answered instead (307; 503 while it names nowhere).
 */
export async function startHttpServer(
  port: number,
  registry: MetricsSource,
  health: HealthState,
  queries?: UserQueries,
  redirectQueries?: (pathAndQuery: string) => string | null,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://eddy');
    const path = url.pathname;
    if (queries === undefined && redirectQueries !== undefined && path.startsWith('/v1/')) {
      const location = redirectQueries(`${path}${url.search}`);
      if (location === null)
        sendJson(res, 503, { error: 'unavailable', message: 'no pipeline to answer yet' });
      else {
        res.writeHead(307, { location });
        res.end();
      }
      return;
    }
    if (queries !== undefined && path.startsWith('/v1/')) {
      answerQuery(queries, req.method ?? 'GET', url, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: String(error) });
        else res.destroy();
      });
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(error));
        });
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? health.live() : health.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(
      `not found: try /metrics, /healthz or /readyz${queries ? ' or /v1/users/{userId}/recommendations' : ''}\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') {
        reject(
          new ConfigError(
            '--http-port / EDDY_HTTP_PORT',
            'a free port (0 picks any free one)',
            `${port}: ${error.code === 'EADDRINUSE' ? 'already in use by another process' : 'not permitted'}`,
          ),
        );
      } else {
        reject(error);
      }
    };
    server.once('error', failed);
    server.listen(port, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const USER_ROUTE = /^\/v1\/users\/([^/]+)\/(recommendations|state)$/;

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function answerQuery(
  queries: UserQueries,
  method: string,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  const match = USER_ROUTE.exec(url.pathname);
  if (match === null) {
    sendJson(res, 404, {
      error: 'not_found',
      message: 'no such endpoint: try /v1/users/{userId}/recommendations or /v1/users/{userId}/state',
    });
    return;
  }
  if (method !== 'GET') {
    sendJson(
      res,
      405,
      { error: 'method_not_allowed', message: `${method} is not allowed; use GET` },
      { allow: 'GET' },
    );
    return;
  }
  let userId: string;
  try {
    userId = decodeURIComponent(match[1]!);
  } catch {
    sendJson(res, 400, { error: 'bad_request', message: 'the user id is not valid percent-encoding' });
    return;
  }
  let answer: QueryAnswer<unknown>;
  if (match[2] === 'recommendations') {
    const raw = url.searchParams.get('limit');
    const limit = raw === null ? undefined : Number(raw);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_QUERY_LIMIT)) {
      sendJson(res, 400, {
        error: 'bad_request',
        message: `limit must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${JSON.stringify(raw)}`,
      });
      return;
    }
    answer = await queries.recommendations(userId, limit);
  } else {
    answer = await queries.state(userId);
  }
  switch (answer.status) {
    case 'ok':
      sendJson(res, 200, answer.body);
      return;
    case 'not_found':
      sendJson(res, 404, {
        error: 'unknown_user',
        message: `no state for user ${JSON.stringify(userId)} on its owner (partition ${answer.partition})`,
        partition: answer.partition,
      });
      return;
    case 'elsewhere':
      // Any instance can be asked: this one sends the client to the owner of the user's partition.
      sendJson(
        res,
        307,
        { error: 'not_owner', owner: answer.endpoint, partition: answer.partition },
        { location: `${answer.endpoint.replace(/\/$/, '')}${url.pathname}${url.search}` },
      );
      return;
    case 'unavailable':
      sendJson(res, 503, { error: 'unavailable', message: answer.reason }, { 'retry-after': '1' });
      return;
  }
}
