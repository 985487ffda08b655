/**
 * The fleet language server's composition root. Transport from the command line: --stdio,
 * --node-ipc or --socket=N (as vscode-languageserver reads them).
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './lsp/server';

const connection = createConnection(ProposedFeatures.all);
startServer(connection);
connection.listen();
