/** Writing fleet's responses: JSON bodies and fleet's error body `{"error":{"code":…,"message":…}}` (api/serialization.go). */
import type { ServerResponse } from 'node:http';
import type { ApiErrorBody } from '../../../protocol/src/api';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message = ''): void {
  const body: ApiErrorBody = { error: { code: status, message } };
  sendJson(res, status, body);
}

/** 201 and 204 have no body. */
export function sendEmpty(res: ServerResponse, status: 201 | 204): void {
  res.writeHead(status);
  res.end();
}
