/**
 * Open Shell on Machine: a VS Code terminal whose Pseudoterminal is an SSH `shell` session with
 * a pty on a fleet machine (fleetctl ssh), directly or through the tunnel host. Keystrokes go to
 * the channel, output comes back, and resizing the terminal resizes the remote pty.
 */
import * as vscode from 'vscode';
import type { RemoteShell } from '../connection/remote';
import type { RemoteAccess } from './remoteAccess';
import type { RemoteTarget } from './remoteTargets';
import { errorMessage } from '../../../protocol/src/log';

export class MachineShellPty implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private shell: RemoteShell | undefined;
  private size = { cols: 80, rows: 24 };
  private closed = false;
  /** Set after a failure: the next key closes the terminal. */
  private failed = false;

  constructor(
    private readonly remote: RemoteAccess,
    private readonly target: RemoteTarget,
  ) {}

  open(initial: vscode.TerminalDimensions | undefined): void {
    if (initial) this.size = { cols: initial.columns, rows: initial.rows };
    this.writeEmitter.fire(`Connecting to ${this.target.label}…\r\n`);
    this.remote.openShell(this.target, this.size).then(
      shell => {
        if (this.closed) return shell.close();
        this.shell = shell;
        shell.channel.on('data', (chunk: Buffer) => this.writeEmitter.fire(chunk.toString('utf8')));
        shell.channel.stderr.on('data', (chunk: Buffer) => this.writeEmitter.fire(chunk.toString('utf8')));
        // The terminal may have been resized while connecting.
        shell.resize(this.size.cols, this.size.rows);
        void shell.exited.then(code => {
          this.shell = undefined;
          if (!this.closed) this.closeEmitter.fire(code ?? undefined);
        });
      },
      (err: unknown) => {
        const message = errorMessage(err);
        this.failed = true;
        this.writeEmitter.fire(`\r\n\x1b[31m${message.replace(/\n/g, '\r\n')}\x1b[0m\r\n\r\nPress any key to close this terminal.\r\n`);
      },
    );
  }

  handleInput(data: string): void {
    if (this.failed) return this.close();
    this.shell?.channel.write(data);
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.size = { cols: dimensions.columns, rows: dimensions.rows };
    this.shell?.resize(this.size.cols, this.size.rows);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.shell?.close();
    this.shell = undefined;
    this.closeEmitter.fire();
  }
}

export function openMachineTerminal(remote: RemoteAccess, target: RemoteTarget): vscode.Terminal {
  const terminal = vscode.window.createTerminal({
    name: `fleet: ${target.label}`,
    pty: new MachineShellPty(remote, target),
    iconPath: new vscode.ThemeIcon('terminal'),
  });
  terminal.show();
  return terminal;
}
