/**
 * The API's one error type and fleet's error body `{"error":{"code":…,"message":…}}`
 * (api/serialization.go). 500s carry an empty message; the detail goes to the log only.
 */
import type { ServerResponse } from 'node:http';
import type { ApiErrorBody } from '../../../protocol/src/api';

export class ApiError extends Error {
  constructor(readonly status: number, message = '') {
    super(message);
    this.name = 'ApiError';
  }
}

/** fleet's message while the registry is unreachable (api/server.go). */
export const UNAVAILABLE_MESSAGE = 'fleet server unable to communicate with etcd';

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
