import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A schema registry small enough to read: the part of Confluent's REST API that
 * @kafkajs/confluent-schema-registry uses (register, look up, fetch by id, subject config).
 * Ids are global and a schema registered twice (under any subject) keeps its id, as in Confluent.
 */
export interface FakeRegistry {
  readonly url: string;
  /** Requests served, e.g. `GET /schemas/ids/1`, to check what was asked. */
  readonly requests: string[];
  /** Registers directly (as another producer would have), returning the id. */
  register(subject: string, schema: unknown): number;
  /** An outage: the port refuses connections until `listenAgain` (same port, same schemas). */
  stopListening(): Promise<void>;
  listenAgain(): Promise<void>;
  close(): Promise<void>;
}

interface Registered {
  readonly id: number;
  readonly schema: string;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const byId = new Map<number, string>();
  const idBySchema = new Map<string, number>();
  const subjects = new Map<string, Registered[]>();
  const configs = new Map<string, string>();
  const requests: string[] = [];

  const register = (subject: string, schema: string): number => {
    const canonical = JSON.stringify(JSON.parse(schema));
    let id = idBySchema.get(canonical);
    if (id === undefined) {
      id = byId.size + 1;
      idBySchema.set(canonical, id);
      byId.set(id, schema);
    }
    const versions = subjects.get(subject) ?? [];
    if (!versions.some((v) => v.id === id)) versions.push({ id, schema });
    subjects.set(subject, versions);
    return id;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const path = decodeURIComponent(url.pathname);
    requests.push(`${req.method} ${path}`);
    const body = req.method === 'POST' || req.method === 'PUT' ? await readJson(req) : null;
    const reply = (status: number, payload: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(payload));
    };
    let match = /^\/schemas\/ids\/(\d+)$/.exec(path);
    if (req.method === 'GET' && match) {
      const schema = byId.get(Number(match[1]));
      if (schema === undefined) reply(404, { error_code: 40403, message: 'Schema not found' });
      else reply(200, { schema });
      return;
    }
    match = /^\/subjects\/([^/]+)\/versions$/.exec(path);
    if (req.method === 'POST' && match) {
      const schema = (body as { schema?: unknown } | null)?.schema;
      if (typeof schema !== 'string') return reply(422, { error_code: 42201, message: 'Invalid schema' });
      reply(200, { id: register(match[1]!, schema) });
      return;
    }
    match = /^\/subjects\/([^/]+)$/.exec(path);
    if (req.method === 'POST' && match) {
      const schema = (body as { schema?: unknown } | null)?.schema;
      const versions = subjects.get(match[1]!);
      if (versions === undefined) return reply(404, { error_code: 40401, message: 'Subject not found' });
      const canonical = typeof schema === 'string' ? JSON.stringify(JSON.parse(schema)) : '';
      const index = versions.findIndex((v) => JSON.stringify(JSON.parse(v.schema)) === canonical);
      if (index < 0) return reply(404, { error_code: 40403, message: 'Schema not found' });
      const found = versions[index]!;
      reply(200, { subject: match[1], id: found.id, version: index + 1, schema: found.schema });
      return;
    }
    match = /^\/config\/([^/]+)$/.exec(path);
    if (match) {
      const subject = match[1]!;
      if (req.method === 'PUT') {
        const level = String((body as { compatibility?: unknown } | null)?.compatibility ?? 'BACKWARD');
        configs.set(subject, level);
        return reply(200, { compatibility: level });
      }
      const level = configs.get(subject);
      if (level === undefined)
        return reply(404, {
          error_code: 40408,
          message: 'Subject does not have subject-level compatibility configured',
        });
      reply(200, { compatibilityLevel: level });
      return;
    }
    reply(404, { error_code: 404, message: `not implemented: ${req.method} ${path}` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 50001, message: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let listening = true;
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    register: (subject, schema) => register(subject, JSON.stringify(schema)),
    stopListening: stop,
    listenAgain: () =>
      new Promise<void>((resolve) => {
        listening = true;
        server.listen(port, '127.0.0.1', resolve);
      }),
    close: stop,
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? null : JSON.parse(text);
}
