/** fleet's v1 HTTP API: the handler and the server that listens on TCP and unix sockets. */
export { createApiServer, type ApiServer, type ApiServerOptions, type ApiListen } from './server';
export { createApiHandler, API_PREFIXES, DEFAULT_MAX_BODY_BYTES, type ApiHandler, type ApiHandlerOptions } from './handler';
export { DEFAULT_TOKEN_LIMIT, encodePageToken } from '../../../registry/src/api/pagination';
export { UNAVAILABLE_MESSAGE } from '../../../registry/src/api/errors';
