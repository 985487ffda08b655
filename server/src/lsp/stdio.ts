/**
 * The stdio transport, with a writer that frames each JSON-RPC message into one buffer and hands
 * it to stdout in one write. (vscode-jsonrpc's stream writer writes the header and the body
 * separately, a tick apart: two write(2) calls, two wake-ups of the client, per message.)
 */
import { format } from 'node:util';
import { AbstractMessageWriter, StreamMessageReader, type Message, type MessageReader, type MessageWriter } from 'vscode-languageserver/node';

export class FramedMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private errorCount = 0;

  constructor(private readonly out: NodeJS.WritableStream) {
    super();
    out.on('error', (e: Error) => this.fireError(e));
    out.on('close', () => this.fireClose());
  }

  write(msg: Message): Promise<void> {
    let frame: Buffer;
    try {
      const body = JSON.stringify(msg);
      const length = Buffer.byteLength(body, 'utf8');
      const header = `Content-Length: ${length}\r\n\r\n`;
      frame = Buffer.allocUnsafe(header.length + length);
      frame.write(header, 0, 'ascii');
      frame.write(body, header.length, 'utf8');
    } catch (e) {
      // An unserialisable message (a cycle, a BigInt): report it, keep the connection.
      this.fireError(e instanceof Error ? e : new Error(String(e)), msg, ++this.errorCount);
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      // One write per message keeps messages whole and in order (the stream queues them).
      this.out.write(frame, (error?: Error | null) => {
        if (error) {
          this.fireError(error, msg, ++this.errorCount);
          reject(error);
        } else {
          this.errorCount = 0;
          resolve();
        }
      });
    });
  }

  end(): void {
    this.out.end();
  }
}

/**
 * Reader and writer on stdin/stdout. As vscode-languageserver does for --stdio: the process ends
 * when stdin closes (0 after a shutdown request, else 1), and console output goes to stderr so it
 * can never corrupt the protocol stream.
 */
export function stdioTransport(shutdownReceived: () => boolean): { reader: MessageReader; writer: MessageWriter } {
  const toStderr = (...args: unknown[]) => {
    process.stderr.write(`${format(...args)}\n`);
  };
  console.log = console.info = console.warn = console.error = console.debug = console.trace = toStderr;
  const exit = () => process.exit(shutdownReceived() ? 0 : 1);
  process.stdin.on('end', exit);
  process.stdin.on('close', exit);
  return { reader: new StreamMessageReader(process.stdin), writer: new FramedMessageWriter(process.stdout) };
}
