/**
 * Show Journal: follows a unit's journal into an OutputChannel of its own, until the user
 * cancels the progress notification, follows another time, or the window closes. A fleetd
 * cluster serves the journal through its API; on a real fleet (no journal API) the journal is
 * fleetctl's `journalctl … -f` on the unit's machine over SSH (RemoteAccess).
 */
import * as vscode from 'vscode';
import type { JournalLine } from '../../../protocol/src/api';
import type { FleetApi } from '../api/types';
import type { RemoteAccess } from './remoteAccess';
import { errorMessage } from '../../../protocol/src/log';

/** The recent lines Show Journal prints before following (fleetd's journal). */
export const JOURNAL_BACKLOG_LINES = 50;

export function formatJournalLine(line: JournalLine): string {
  const time = new Date(line.time)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return `${time} ${line.machineID.slice(0, 8)} ${line.stream === 'stderr' ? '[err] ' : line.stream === 'system' ? '[sys] ' : ''}${line.text}`;
}

export class JournalFollower implements vscode.Disposable {
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly remote: RemoteAccess) {}

  async follow(api: FleetApi, unit: string, machineId: string | undefined): Promise<void> {
    this.running.get(unit)?.abort();
    const abort = new AbortController();
    this.running.set(unit, abort);
    let channel = this.channels.get(unit);
    if (!channel) {
      channel = vscode.window.createOutputChannel(`Fleet Journal: ${unit}`);
      this.channels.set(unit, channel);
    }
    channel.clear();
    channel.show(true);
    const out = channel;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Following the journal of ${unit}`, cancellable: true },
      async (_progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        try {
          if (!(await this.remote.hasJournalApi(api, unit, abort.signal))) {
            const result = await this.remote.followJournal(unit, line => out.appendLine(line), abort.signal, machineId);
            if (!result.stopped)
              out.appendLine(`-- journalctl on ${result.target.label} ended${result.exitCode === null ? '' : ` with exit status ${result.exitCode}`} --`);
            return;
          }
          // One request: the backlog, each line once, then what follows (a separate backlog read
          // printed it twice, since the follow replays its own).
          await api.followJournal(unit, line => out.appendLine(formatJournalLine(line)), abort.signal, {
            lines: JOURNAL_BACKLOG_LINES,
            ...(machineId ? { machineId } : {}),
          });
        } catch (err) {
          if (abort.signal.aborted) return;
          const message = errorMessage(err);
          out.appendLine(`-- ${message} --`);
          void vscode.window.showErrorMessage(`Cannot follow the journal of ${unit}: ${message}`);
        } finally {
          if (this.running.get(unit) === abort) this.running.delete(unit);
          if (abort.signal.aborted) out.appendLine('-- stopped following --');
        }
      },
    );
  }

  stopAll(): void {
    for (const abort of this.running.values()) abort.abort();
    this.running.clear();
  }

  dispose(): void {
    this.stopAll();
    for (const channel of this.channels.values()) channel.dispose();
    this.channels.clear();
  }
}
