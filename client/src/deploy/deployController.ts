/**
 * Deploy from the editor and the explorer: validate with the language server, then run the
 * fleetctl-style operation with a cancellable progress notification, and report each unit's
 * outcome the way fleetctl prints it.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ValidateForSubmitRequest, type ValidateForSubmitResult } from '../../../protocol/src/lsp';
import { isTemplateName } from '../../../unitfile/src';
import type { FleetApi } from '../api/types';
import type { ClusterModel } from '../cluster/clusterModel';
import { clusterPhrase, clusterTitle } from '../cluster/clusterName';
import { localCopyUri, unitUri, type UnitDocumentProvider } from '../cluster/unitDocuments';
import { Commands, Views } from '../identifiers';
import { resolveTargets, targetsFromArgs, type UnitTarget } from '../commands/targets';
import { DeployCancelledError, planReplace, replaceUnit, runDeploy, type DeployOp, type DeployRequest, type DeployResult, type LocalUnit } from './deploy';
import { localUnitFromText } from './localUnit';
import { unplaceableOnStart } from './placementCheck';
import { deployReport, placementQuestion, type ReportAction } from './report';
import { errorMessage } from '../../../protocol/src/log';

const TITLES: Record<DeployOp, [string, string]> = {
  submit: ['Submit', 'Submitting'],
  load: ['Load', 'Loading'],
  start: ['Start', 'Starting'],
  stop: ['Stop', 'Stopping'],
  unload: ['Unload', 'Unloading'],
  destroy: ['Destroy', 'Destroying'],
};

export interface DeployDeps {
  model: ClusterModel;
  log: vscode.LogOutputChannel;
  documents: UnitDocumentProvider;
  languageClient: () => LanguageClient | undefined;
  /** The active cluster's entry name (a profile's name, the local cluster's), for titles and dialogs. */
  clusterName?: () => string | undefined;
}

export class DeployController {
  constructor(readonly deps: DeployDeps) {}

  /** The active cluster's API; undefined after telling the user how to connect. */
  api(): FleetApi | undefined {
    const api = this.deps.model.currentApi;
    if (!api) {
      void vscode.window
        .showErrorMessage('Not connected to a fleet cluster. Run "Fleet: Select Cluster" or "Fleet: Start Local Cluster" first.', 'Select Cluster')
        .then(choice => {
          if (choice) void vscode.commands.executeCommand(Commands.selectCluster);
        });
    }
    return api;
  }

  /** `the local cluster`, `prod`: the active cluster inside a sentence. */
  clusterPhrase(api: FleetApi): string {
    return clusterPhrase(this.deps.clusterName?.(), api.label);
  }

  private timeoutMs(): number {
    const seconds = vscode.workspace.getConfiguration('fleet').get<number>('deploy.timeoutSeconds', 60);
    return Math.max(0, Number.isFinite(seconds) ? seconds : 60) * 1000;
  }

  /** The command handler for submit/load/start/stop/unload/destroy; resolves to each unit's result (undefined when nothing ran). */
  async command(op: DeployOp, arg: unknown, selection: unknown): Promise<DeployResult[] | undefined> {
    const targets = await resolveTargets(this.deps.model, `Fleet: ${TITLES[op][0]} Unit`, arg, selection);
    if (!targets) return undefined;
    const api = this.api();
    if (!api) return undefined;
    if ((op === 'start' || op === 'load') && targets.length === 1 && targets[0]!.uri && isTemplateName(targets[0]!.name)) {
      const choice = await vscode.window.showWarningMessage(
        `${targets[0]!.name} is a template and cannot be ${op === 'start' ? 'started' : 'loaded'} itself; create instances such as ${targets[0]!.name.replace('@.', '@1.')} from it.`,
        'Create Template Instances…',
      );
      if (choice) return vscode.commands.executeCommand<DeployResult[] | undefined>(Commands.createTemplateInstances, targets[0]);
      return undefined;
    }
    if (op === 'destroy') {
      const names = targets.map(t => t.name);
      const where = this.clusterPhrase(api);
      const confirm = await vscode.window.showWarningMessage(
        names.length === 1 ? `Destroy ${names[0]} in ${where}?` : `Destroy ${names.length} units in ${where}?`,
        {
          modal: true,
          detail:
            names.length === 1
              ? `The unit is stopped, unloaded and removed from the registry of ${where}.`
              : `${names.join(', ')}\n\nThe units are stopped, unloaded and removed from the registry of ${where}.`,
        },
        'Destroy',
      );
      if (confirm !== 'Destroy') return undefined;
    }
    const requests = await this.requests(op, targets);
    if (!requests) return undefined;
    const files = filesOf(targets);
    if ((op === 'start' || op === 'load') && !(await this.placeableOrAsked(api, op, requests, files))) return undefined;
    return this.run(api, op, requests, files);
  }

  /**
   * Start's own placement check (the scheduler's planCluster over the explorer's snapshot): when
   * no machine would take a unit, ask before writing anything. True: go on.
   */
  async placeableOrAsked(api: FleetApi, op: 'start' | 'load', requests: readonly DeployRequest[], files: ReadonlyMap<string, vscode.Uri>): Promise<boolean> {
    await this.deps.model.refresh().catch(() => undefined);
    const snapshot = this.deps.model.lastSnapshot;
    if (!snapshot) return true;
    const blocked = unplaceableOnStart(snapshot, requests);
    if (blocked.length === 0) return true;
    const question = placementQuestion(blocked, requests.length, this.clusterPhrase(api), op, name => files.has(name));
    this.deps.log.warn(`${question.message} ${question.detail.replace(/\n+/g, ' ')}`);
    const choice = await vscode.window.showWarningMessage(question.message, { modal: true, detail: question.detail }, question.proceed, question.action.label);
    if (choice === question.action.label) await this.runAction(question.action, files);
    return choice === question.proceed;
  }

  private async runAction(action: ReportAction, files: ReadonlyMap<string, vscode.Uri>): Promise<void> {
    if (action.kind === 'log') this.deps.log.show();
    else if (action.kind === 'machines') await vscode.commands.executeCommand(`${Views.machines}.focus`);
    else if (action.kind === 'journal') await vscode.commands.executeCommand(Commands.showUnitJournal, unitUri(action.unit));
    else {
      const file = files.get(action.unit);
      if (file) await vscode.window.showTextDocument(file);
      else await vscode.commands.executeCommand(Commands.showUnitFile, unitUri(action.unit));
    }
  }

  /** Builds requests; for submit/load/start, local files are validated first (blocking errors stop everything). */
  async requests(op: DeployOp, targets: readonly UnitTarget[]): Promise<DeployRequest[] | undefined> {
    const out: DeployRequest[] = [];
    for (const target of targets) {
      if (target.uri && (op === 'submit' || op === 'load' || op === 'start')) {
        const local = await this.localUnit(target.uri);
        if (!local) return undefined;
        out.push({ name: local.name, local });
      } else out.push({ name: target.name });
    }
    return out;
  }

  /** Validates a file with the language server (as the editor does) and parses it; undefined after showing why not. */
  async localUnit(uri: vscode.Uri): Promise<LocalUnit | undefined> {
    let text: string;
    try {
      text = (await vscode.workspace.openTextDocument(uri)).getText();
    } catch (err) {
      void vscode.window.showErrorMessage(`Cannot read ${uri.fsPath}: ${errorMessage(err)}`);
      return undefined;
    }
    const client = this.deps.languageClient();
    if (client && client.isRunning()) {
      let result: ValidateForSubmitResult | undefined;
      try {
        result = await client.sendRequest(ValidateForSubmitRequest.type, { uri: uri.toString() });
      } catch (err) {
        this.deps.log.warn(`fleet/validateForSubmit failed for ${uri.toString()}: ${errorMessage(err)}; checking with fleet's parser only`);
      }
      if (result?.blocking) {
        const errors = result.problems.filter(p => p.severity === 'error');
        const first = errors[0];
        const where = first ? `line ${first.range.start.line + 1}: ${first.message}` : 'it has errors';
        const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
        const choice = await vscode.window.showErrorMessage(
          `Cannot submit ${result.name}: ${where}${more}. Fix the errors shown in the editor first.`,
          'Show Problems',
          'Open File',
        );
        if (choice === 'Show Problems') void vscode.commands.executeCommand('workbench.actions.view.problems');
        if (choice === 'Open File') void vscode.window.showTextDocument(uri);
        return undefined;
      }
    }
    const parsed = localUnitFromText(uri.path, text);
    if ('error' in parsed) {
      void vscode.window.showErrorMessage(parsed.error);
      return undefined;
    }
    return parsed.unit;
  }

  async run(api: FleetApi, op: DeployOp, requests: DeployRequest[], files: ReadonlyMap<string, vscode.Uri> = new Map()): Promise<DeployResult[] | undefined> {
    const names = requests.map(r => r.name);
    const title = `Fleet: ${TITLES[op][1]} ${names.length === 1 ? names[0] : `${names.length} units`}`;
    return this.withProgress(
      title,
      names,
      signal =>
        runDeploy(api, op, requests, {
          timeoutMs: this.timeoutMs(),
          signal,
          onProgress: m => this.progress?.report({ message: m }),
          // The explorer row follows the wait: each state it reads shows at once.
          onUnit: (unit, states) => this.deps.model.applyUnit(unit, states),
        }),
      files,
    );
  }

  private progress: vscode.Progress<{ message?: string }> | undefined;

  private async withProgress(
    title: string,
    names: string[],
    body: (signal: AbortSignal) => Promise<DeployResult[]>,
    files: ReadonlyMap<string, vscode.Uri> = new Map(),
  ): Promise<DeployResult[] | undefined> {
    const release = this.deps.model.watch();
    try {
      const results = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          this.progress = progress;
          try {
            return await body(abort.signal);
          } finally {
            this.progress = undefined;
          }
        },
      );
      this.report(results, files);
      for (const name of names) this.deps.documents.changed(name);
      return results;
    } catch (err) {
      if (err instanceof DeployCancelledError) {
        this.deps.log.info(`${title}: cancelled`);
        void vscode.window.showInformationMessage(`${title.replace(/^Fleet: /, '')}: cancelled. The cluster keeps the desired state already set.`);
      } else {
        const message = errorMessage(err);
        this.deps.log.error(`${title}: ${message}`);
        void vscode.window.showErrorMessage(message);
      }
      return undefined;
    } finally {
      release();
      void this.deps.model.refresh();
    }
  }

  /** One message for any number of units, with at most one action (deploy/report.ts decides). */
  private report(results: DeployResult[], files: ReadonlyMap<string, vscode.Uri>): void {
    for (const r of results) {
      this.deps.log[r.ok ? 'info' : 'error'](r.message);
      for (const w of r.warnings) this.deps.log.warn(`${w}`);
    }
    for (const w of results.flatMap(r => r.warnings)) void vscode.window.showWarningMessage(w);
    const report = deployReport(results, name => files.has(name));
    if (report.level === 'info') void vscode.window.showInformationMessage(report.message);
    else {
      const action = report.action;
      void vscode.window
        .showErrorMessage(report.message, ...(action ? [action.label] : []))
        .then(c => (c && action ? this.runAction(action, files) : undefined));
    }
  }

  /** Replace Unit: diff the registry copy with the local file, confirm, replace, wait. */
  async replace(arg: unknown, selection: unknown): Promise<void> {
    let target = targetsFromArgs(arg, selection)?.[0];
    if (target && !target.uri) {
      const files = await vscode.workspace.findFiles(`**/${target.name}`, '**/node_modules/**', 2);
      if (files.length === 0) {
        void vscode.window.showErrorMessage(
          `Replace needs the new content of ${target.name}: open its unit file from the workspace and run Fleet: Replace Unit from the editor.`,
        );
        return;
      }
      target = { name: target.name, uri: files[0]! };
    }
    if (!target?.uri) {
      void vscode.window.showErrorMessage('Open the unit file to replace and run Fleet: Replace Unit from its editor.');
      return;
    }
    const api = this.api();
    if (!api) return;
    const local = await this.localUnit(target.uri);
    if (!local) return;
    let plan;
    try {
      plan = await planReplace(api, local);
    } catch (err) {
      void vscode.window.showErrorMessage(`Cannot read ${local.name} from ${api.label}: ${errorMessage(err)}`);
      return;
    }
    const where = this.clusterPhrase(api);
    if (plan.kind === 'create') {
      const choice = await vscode.window.showInformationMessage(
        `${local.name} is not in the registry of ${where}; there is nothing to replace.`,
        'Start It',
        'Submit It',
      );
      if (choice) await this.run(api, choice === 'Start It' ? 'start' : 'submit', [{ name: local.name, local }]);
      return;
    }
    if (plan.kind === 'identical') {
      // Compared as fleet stores units (comments and blank lines dropped): no diff tab to show.
      void vscode.window.showInformationMessage(`${local.name}: no differences between ${where} and the local file (as fleet stores it); nothing to replace.`);
      return;
    }
    // Both sides as fleet stores them, so the diff shows only what a replace changes.
    const registryCopy = unitUri(local.name, clusterTitle(this.deps.clusterName?.(), api.label));
    const localCopy = localCopyUri(local.name, target.uri);
    this.deps.documents.changed(local.name);
    await vscode.commands.executeCommand(
      'vscode.diff',
      registryCopy,
      localCopy,
      `${local.name}: ${clusterTitle(this.deps.clusterName?.(), api.label)} ↔ local file`,
      { preview: true },
    );
    // A notification, not a modal dialog: the diff stays readable while the user decides.
    const back = plan.desiredState === 'inactive' ? 'it stays inactive' : `it is brought back to ${plan.desiredState}, possibly on another machine`;
    const confirm = await vscode.window.showWarningMessage(
      `Replace ${local.name} in ${where} with the local file? The unit is ${plan.desiredState}: fleet tears it down and ${back}.`,
      'Replace',
    );
    if (confirm !== 'Replace') return;
    const results = await this.withProgress(`Fleet: Replacing ${local.name}`, [local.name], async signal => [
      await replaceUnit(api, local, plan, { timeoutMs: this.timeoutMs(), signal, onProgress: m => this.progress?.report({ message: m }) }),
    ]);
    // The diff compared what is no longer there: close it (the registry copy re-reads on its own).
    if (results) await closeDiffTabs(localCopy);
  }
}

/** Closes the diff tabs whose right side is `modified`. */
async function closeDiffTabs(modified: vscode.Uri): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap(g => g.tabs)
    .filter(t => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === modified.toString());
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
}

/** The unit files among the targets, by unit name. */
export function filesOf(targets: readonly UnitTarget[]): Map<string, vscode.Uri> {
  return new Map(targets.flatMap(t => (t.uri ? [[t.name, t.uri] as const] : [])));
}
