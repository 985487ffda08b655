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
import { unitUri, type UnitDocumentProvider } from '../cluster/unitDocuments';
import { toUnitOptions } from '../cluster/unitRows';
import { Commands } from '../identifiers';
import { resolveTargets, targetsFromArgs, type UnitTarget } from '../commands/targets';
import { DeployCancelledError, planReplace, replaceUnit, runDeploy, type DeployOp, type DeployRequest, type DeployResult, type LocalUnit } from './deploy';
import { localUnitFromText } from './localUnit';
import { matchUnits, parseInstanceSpec, templateInstances } from './templates';
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
}

export class DeployController {
  constructor(private readonly deps: DeployDeps) {}

  private api(): FleetApi | undefined {
    const api = this.deps.model.currentApi;
    if (!api) {
      void vscode.window.showErrorMessage('Not connected to a fleet cluster. Run "Fleet: Select Cluster" or "Fleet: Start Local Cluster" first.', 'Select Cluster').then(choice => {
        if (choice) void vscode.commands.executeCommand(Commands.selectCluster);
      });
    }
    return api;
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
      if (choice) return this.createTemplateInstances(targets[0]);
      return undefined;
    }
    if (op === 'destroy') {
      const names = targets.map(t => t.name);
      const confirm = await vscode.window.showWarningMessage(
        names.length === 1 ? `Destroy ${names[0]} in ${api.label}?` : `Destroy ${names.length} units in ${api.label}?`,
        { modal: true, detail: `${names.join(', ')}\n\nThe units are stopped, unloaded and removed from the registry.` },
        'Destroy',
      );
      if (confirm !== 'Destroy') return undefined;
    }
    const requests = await this.requests(op, targets);
    if (!requests) return undefined;
    return this.run(api, op, requests);
  }

  /** Builds requests; for submit/load/start, local files are validated first (blocking errors stop everything). */
  private async requests(op: DeployOp, targets: readonly UnitTarget[]): Promise<DeployRequest[] | undefined> {
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
        const choice = await vscode.window.showErrorMessage(`Cannot submit ${result.name}: ${where}${more}. Fix the errors shown in the editor first.`, 'Show Problems', 'Open File');
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

  private async run(api: FleetApi, op: DeployOp, requests: DeployRequest[]): Promise<DeployResult[] | undefined> {
    const names = requests.map(r => r.name);
    const title = `Fleet: ${TITLES[op][1]} ${names.length === 1 ? names[0] : `${names.length} units`}`;
    return this.withProgress(title, names, signal =>
      runDeploy(api, op, requests, {
        timeoutMs: this.timeoutMs(),
        signal,
        onProgress: m => this.progress?.report({ message: m }),
        // The explorer row follows the wait: each state it reads shows at once.
        onUnit: (unit, states) => this.deps.model.applyUnit(unit, states),
      }),
    );
  }

  private progress: vscode.Progress<{ message?: string }> | undefined;

  private async withProgress(title: string, names: string[], body: (signal: AbortSignal) => Promise<DeployResult[]>): Promise<DeployResult[] | undefined> {
    const release = this.deps.model.watch();
    try {
      const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        this.progress = progress;
        try {
          return await body(abort.signal);
        } finally {
          this.progress = undefined;
        }
      });
      this.report(results);
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

  private report(results: DeployResult[]): void {
    for (const r of results) {
      this.deps.log[r.ok ? 'info' : 'error'](r.message);
      for (const w of r.warnings) this.deps.log.warn(`${w}`);
    }
    const warnings = results.flatMap(r => r.warnings);
    for (const w of warnings) void vscode.window.showWarningMessage(w);
    const failed = results.filter(r => !r.ok);
    const ok = results.filter(r => r.ok);
    if (results.length === 1) {
      const r = results[0]!;
      if (r.ok) void vscode.window.showInformationMessage(r.message);
      else void vscode.window.showErrorMessage(r.message, 'Show Log').then(c => c && this.deps.log.show());
      return;
    }
    if (failed.length === 0) {
      void vscode.window.showInformationMessage(`${ok.length} units done: ${ok.map(r => r.message.replace(/^Unit /, '')).join('; ')}`);
    } else {
      void vscode.window
        .showErrorMessage(`${failed.length} of ${results.length} units failed: ${failed.map(r => r.message).join(' ')}`, 'Show Log')
        .then(c => c && this.deps.log.show());
    }
  }

  /** Replace Unit: diff the registry copy with the local file, confirm, replace, wait. */
  async replace(arg: unknown, selection: unknown): Promise<void> {
    let target = targetsFromArgs(arg, selection)?.[0];
    if (target && !target.uri) {
      const files = await vscode.workspace.findFiles(`**/${target.name}`, '**/node_modules/**', 2);
      if (files.length === 0) {
        void vscode.window.showErrorMessage(`Replace needs the new content of ${target.name}: open its unit file from the workspace and run Fleet: Replace Unit from the editor.`);
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
    if (plan.kind === 'create') {
      const choice = await vscode.window.showInformationMessage(`${local.name} is not in the registry of ${api.label}; there is nothing to replace.`, 'Start It', 'Submit It');
      if (choice) await this.run(api, choice === 'Start It' ? 'start' : 'submit', [{ name: local.name, local }]);
      return;
    }
    if (plan.kind === 'identical') {
      void vscode.window.showInformationMessage(`${local.name} in ${api.label} is identical to the local file; nothing to replace.`);
      return;
    }
    await vscode.commands.executeCommand('vscode.diff', unitUri(local.name), target.uri, `${local.name}: registry (${api.label}) ↔ local`, { preview: true });
    const confirm = await vscode.window.showWarningMessage(
      `Replace ${local.name} in ${api.label} with the local file?`,
      {
        modal: true,
        detail: `The unit is ${plan.desiredState}. fleet replaces it in place: it is torn down and ${plan.desiredState === 'inactive' ? 'stays inactive' : `brought back to ${plan.desiredState}, possibly on another machine`}.`,
      },
      'Replace',
    );
    if (confirm !== 'Replace') return;
    await this.withProgress(`Fleet: Replacing ${local.name}`, [local.name], async signal => [
      await replaceUnit(api, local, plan, { timeoutMs: this.timeoutMs(), signal, onProgress: m => this.progress?.report({ message: m }) }),
    ]);
  }

  /** Start units by glob over the registry and the workspace's unit files, or the explorer selection. */
  async startMatching(arg: unknown, selection: unknown): Promise<DeployResult[] | undefined> {
    const selected = targetsFromArgs(arg, selection);
    if (selected && selected.length > 1) return this.command('start', arg, selection);
    const api = this.api();
    if (!api) return;
    const pattern = await vscode.window.showInputBox({
      title: 'Fleet: Start Units Matching',
      prompt: 'A unit name or a glob (fleet syntax: * ? [abc]); matches registry units and unit files in the workspace',
      value: 'nginx.*.service',
      validateInput: v => {
        const r = matchUnits(v, []);
        return 'error' in r ? r.error : undefined;
      },
    });
    if (pattern === undefined) return undefined;
    await this.deps.model.refresh();
    const registry = this.deps.model.lastSnapshot?.units.map(u => u.name) ?? [];
    const files = await vscode.workspace.findFiles('**/*.{service,socket,timer,path,mount,automount,device,target}', '**/node_modules/**', 2000);
    const byName = new Map<string, vscode.Uri>();
    for (const f of files) byName.set(f.path.split('/').pop()!, f);
    const all = [...new Set([...registry, ...byName.keys()])];
    const matched = matchUnits(pattern, all);
    if ('error' in matched) return void vscode.window.showErrorMessage(matched.error);
    const names = matched.names.filter(n => !isTemplateName(n));
    if (names.length === 0) {
      void vscode.window.showWarningMessage(`No unit in ${api.label} or in the workspace matches ${pattern.trim()}.`);
      return undefined;
    }
    const registrySet = new Set(registry);
    const targets: UnitTarget[] = names.map(n => (registrySet.has(n) ? { name: n } : { name: n, uri: byName.get(n)! }));
    const requests = await this.requests('start', targets);
    if (!requests) return undefined;
    return this.run(api, 'start', requests);
  }

  /** `web@.service` → `web@1.service`…: from the template file (or its registry copy), then submit/load/start. */
  async createTemplateInstances(arg: unknown, selection?: unknown): Promise<DeployResult[] | undefined> {
    const target = (arg && typeof arg === 'object' && 'name' in arg && !('kind' in arg) ? (arg as UnitTarget) : targetsFromArgs(arg, selection)?.[0]);
    if (!target || !isTemplateName(target.name)) {
      void vscode.window.showErrorMessage(`${target ? `${target.name} is not a template unit. ` : ''}Open a template unit file (named like web@.service) or select one in the explorer, then run Fleet: Create Template Instances.`);
      return;
    }
    const api = this.api();
    if (!api) return undefined;
    let options: LocalUnit['options'] | undefined;
    if (target.uri) options = (await this.localUnit(target.uri))?.options;
    else {
      const unit = await api.getUnit(target.name).catch(() => undefined);
      options = unit?.options?.length ? toUnitOptions(unit.options) : undefined;
      if (!options) return void vscode.window.showErrorMessage(`Cannot read the template ${target.name} from ${api.label}.`);
    }
    if (!options) return undefined;
    const spec = await vscode.window.showInputBox({
      title: `Fleet: Create Instances of ${target.name}`,
      prompt: 'How many instances (3 → 1..3), a range (1..5) or a list (1,2,blue)',
      value: '3',
      validateInput: v => {
        const r = parseInstanceSpec(v);
        if ('error' in r) return r.error;
        const names = templateInstances(target.name, r.instances);
        return 'error' in names ? names.error : undefined;
      },
    });
    if (spec === undefined) return undefined;
    const parsed = parseInstanceSpec(spec);
    if ('error' in parsed) return undefined;
    const made = templateInstances(target.name, parsed.instances);
    if ('error' in made) return void vscode.window.showErrorMessage(made.error);
    const action = await vscode.window.showQuickPick(
      [
        { label: 'Start', description: 'submit, load and launch each instance', op: 'start' as const },
        { label: 'Load', description: 'submit and load (scheduled, not started)', op: 'load' as const },
        { label: 'Submit', description: 'only add them to the registry', op: 'submit' as const },
      ],
      { title: `${made.names.length} instance${made.names.length === 1 ? '' : 's'}: ${made.names.slice(0, 4).join(', ')}${made.names.length > 4 ? ', …' : ''}` },
    );
    if (!action) return undefined;
    const templateOptions = options;
    return this.run(api, action.op, made.names.map(name => ({ name, local: { name, options: templateOptions } })));
  }
}
