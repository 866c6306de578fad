import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { RestError, errors } from '../errors.ts';
import { fromPairs, isRecord, parseQuery, type Params } from './params.ts';

export interface UploadedFile {
  field: string;
  filename: string;
  content: Buffer;
}

export interface RequestBody {
  params: Params;
  files: UploadedFile[];
}

/** Recordings arrive base64-encoded inside the body, so the limit is generous but finite. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export async function readRaw(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const tooLarge = (): RestError => new RestError(413, 'INVALID_REQUEST', 'Request entity too large');

/**
 * Decodes a REST request's parameters from the query string and the body (JSON, form or multipart),
 * body values overriding query values as PHP's $_REQUEST does.
 */
export async function readParams(req: IncomingMessage, query: string): Promise<RequestBody> {
  const fromQuery = parseQuery(query);
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (req.method === 'GET' || req.method === 'HEAD') return { params: fromQuery, files: [] };
  if (type.startsWith('multipart/form-data')) {
    const { pairs, files } = await readMultipart(req);
    return { params: { ...fromQuery, ...fromPairs(pairs) }, files };
  }
  const raw = await readRaw(req);
  const text = raw.toString('utf8');
  if (text.trim() === '') return { params: fromQuery, files: [] };
  if (type.includes('json') || (!type.includes('x-www-form-urlencoded') && /^\s*[[{]/.test(text))) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw errors.invalidRequest('Request body is not valid JSON');
    }
    if (!isRecord(body)) throw errors.invalidRequest('JSON body must be an object of parameters');
    return { params: { ...fromQuery, ...body }, files: [] };
  }
  return { params: { ...fromQuery, ...parseQuery(text) }, files: [] };
}

function readMultipart(req: IncomingMessage): Promise<{ pairs: [string, string][]; files: UploadedFile[] }> {
  return new Promise((resolve, reject) => {
    const pairs: [string, string][] = [];
    const files: UploadedFile[] = [];
    let total = 0;
    let failed = false;
    const fail = (e: RestError): void => {
      if (failed) return;
      failed = true;
      req.unpipe();
      req.resume();
      reject(e);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: MAX_BODY_BYTES, fields: 10_000 } });
    } catch {
      reject(errors.invalidRequest('Malformed multipart/form-data request'));
      return;
    }
    parser.on('field', (name, value) => {
      total += value.length;
      if (total > MAX_BODY_BYTES) fail(tooLarge());
      else pairs.push([name, value]);
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        total += c.length;
        if (total > MAX_BODY_BYTES) fail(tooLarge());
        else chunks.push(c);
      });
      stream.on('limit', () => fail(tooLarge()));
      stream.on('end', () =>
        files.push({ field: name, filename: info.filename ?? '', content: Buffer.concat(chunks) }),
      );
    });
    parser.on('error', () => fail(errors.invalidRequest('Malformed multipart/form-data request')));
    parser.on('close', () => {
      if (!failed) resolve({ pairs, files });
    });
    req.pipe(parser);
  });
}
