/**
 * The fleet language server's composition root. Transport from the command line: --stdio (our
 * framed writer, see lsp/stdio.ts), --node-ipc or --socket=N (as vscode-languageserver reads them).
 */
import { createConnection } from 'vscode-languageserver/node';
import { startServer } from './lsp/server';
import { stdioTransport } from './lsp/stdio';

let shutdown = false;
const stdio = process.argv.slice(2).includes('--stdio') ? stdioTransport(() => shutdown) : undefined;
// (No proposed LSP features: the server uses none of them.)
const connection = stdio ? createConnection(stdio.reader, stdio.writer) : createConnection();
startServer(connection, { onShutdown: () => (shutdown = true) });
connection.listen();
