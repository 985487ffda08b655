/**
 * The API's one error type (fleet's `{"error":{"code":…,"message":…}}` bodies carry its status and
 * message; api/serialization.go). 500s carry an empty message; the detail goes to the log only.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message = '',
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** fleet's message while the registry is unreachable (api/server.go). */
export const UNAVAILABLE_MESSAGE = 'fleet server unable to communicate with etcd';
