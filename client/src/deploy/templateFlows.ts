/**
 * The template and glob flows of the deploy commands (their decisions are in templates.ts):
 * Start Units Matching previews what a pattern matches, making `web@7.service` from `web@.service`
 * as fleetctl does, and Create Template Instances picks a template (the editor's, the
 * explorer's, or one of the workspace's and the registry's) and takes instance names and ranges.
 */
import * as vscode from 'vscode';
import { isTemplateName } from '../../../unitfile/src';
import { toUnitOptions } from '../cluster/unitRows';
import { targetsFromArgs, type UnitTarget } from '../commands/targets';
import type { DeployRequest, DeployResult, LocalUnit } from './deploy';
import { filesOf, type DeployController } from './deployController';
import { describeMatch, parseInstanceSpec, planStartMatching, templateInstances, matchUnits } from './templates';

const UNIT_FILES = '**/*.{service,socket,timer,path,mount,automount,device,target}';

/** The workspace's unit files by name (the first of each name). */
async function workspaceUnits(): Promise<Map<string, vscode.Uri>> {
  const byName = new Map<string, vscode.Uri>();
  for (const f of await vscode.workspace.findFiles(UNIT_FILES, '**/node_modules/**', 2000)) {
    const name = f.path.split('/').pop()!;
    if (!byName.has(name)) byName.set(name, f);
  }
  return byName;
}

/** A template's options: its workspace file (validated as for Submit) or its registry copy. */
async function templateOptions(controller: DeployController, template: UnitTarget): Promise<LocalUnit['options'] | undefined> {
  if (template.uri) return (await controller.localUnit(template.uri))?.options;
  const api = controller.deps.model.currentApi;
  const unit = await api?.getUnit(template.name).catch(() => undefined);
  const options = unit?.options?.length ? toUnitOptions(unit.options) : undefined;
  if (!options) void vscode.window.showErrorMessage(`Cannot read the template ${template.name} from ${api?.label ?? 'the cluster'}.`);
  return options;
}

/** Start units by glob (a preview first; `web@7.service` made from `web@.service`), or the explorer's selection of several. */
export async function startMatching(controller: DeployController, arg: unknown, selection: unknown): Promise<DeployResult[] | undefined> {
  const selected = targetsFromArgs(arg, selection);
  if (selected && selected.length > 1) return controller.command('start', arg, selection);
  const api = controller.api();
  if (!api) return undefined;
  const pattern = await vscode.window.showInputBox({
    title: 'Fleet: Start Units Matching',
    prompt: 'A unit name or a glob (fleet syntax: * ? [abc]) over the registry and the workspace; an instance such as web@7.service is made from web@.service',
    value: 'nginx.*.service',
    validateInput: v => {
      const r = matchUnits(v, []);
      return 'error' in r ? r.error : undefined;
    },
  });
  if (pattern === undefined) return undefined;
  await controller.deps.model.refresh();
  const registryUnits = controller.deps.model.lastSnapshot?.units ?? [];
  const files = await workspaceUnits();
  const plan = planStartMatching(
    pattern,
    registryUnits.map(u => u.name),
    [...files.keys()],
  );
  if ('error' in plan) return void vscode.window.showErrorMessage(plan.error);
  if (plan.units.length === 0) {
    void vscode.window.showWarningMessage(`No unit in ${controller.clusterPhrase(api)} or in the workspace matches ${pattern.trim()}.`);
    return undefined;
  }
  // The preview: what matched and where each comes from; unticking one leaves it out.
  const picks = await vscode.window.showQuickPick(
    plan.units.map(m => ({ label: m.name, description: describeMatch(m, registryUnits.find(u => u.name === m.name)?.desiredState), picked: true, unit: m })),
    {
      title: `Fleet: Start ${plan.units.length} unit${plan.units.length === 1 ? '' : 's'} matching ${pattern.trim()}`,
      canPickMany: true,
      placeHolder: 'These units will be started; untick any to leave out',
    },
  );
  if (!picks || picks.length === 0) return undefined;
  const requests: DeployRequest[] = [];
  const targets: UnitTarget[] = [];
  for (const { unit: m } of picks) {
    if (m.source.kind === 'template') {
      const options = await templateOptions(controller, {
        name: m.source.template,
        ...(m.source.templateIn === 'file' ? { uri: files.get(m.source.template)! } : {}),
      });
      if (!options) return undefined;
      requests.push({ name: m.name, local: { name: m.name, options } });
      continue;
    }
    targets.push(m.source.kind === 'registry' ? { name: m.name } : { name: m.name, uri: files.get(m.name)! });
  }
  const fromTargets = await controller.requests('start', targets);
  if (!fromTargets) return undefined;
  requests.unshift(...fromTargets);
  const unitFiles = filesOf(targets);
  if (!(await controller.placeableOrAsked(api, 'start', requests, unitFiles))) return undefined;
  return controller.run(api, 'start', requests, unitFiles);
}

/** The template to instantiate: from the arguments or the editor, else a pick of the workspace's and the registry's templates. */
async function pickTemplate(controller: DeployController, arg: unknown, selection: unknown): Promise<UnitTarget | undefined> {
  const given = arg && typeof arg === 'object' && 'name' in arg && !('kind' in arg) ? (arg as UnitTarget) : targetsFromArgs(arg, selection)?.[0];
  if (given && isTemplateName(given.name)) return given;
  const files = [...(await workspaceUnits())].filter(([name]) => isTemplateName(name));
  const registry = (controller.deps.model.lastSnapshot?.units ?? []).map(u => u.name).filter(n => isTemplateName(n) && !files.some(([f]) => f === n));
  if (files.length === 0 && registry.length === 0) {
    void vscode.window.showErrorMessage(
      `${given ? `${given.name} is not a template unit, and ` : ''}no template unit (named like web@.service) is in the workspace or the registry. Create one, then run Fleet: Create Template Instances.`,
    );
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    [
      ...files.map(([name, uri]) => ({ label: name, description: vscode.workspace.asRelativePath(uri), target: { name, uri } as UnitTarget })),
      ...registry.map(name => ({ label: name, description: 'in the registry', target: { name } as UnitTarget })),
    ],
    { title: 'Fleet: Create Template Instances', placeHolder: 'The template to make instances of' },
  );
  return pick?.target;
}

/** `web@.service` → `web@1.service`…: from the template file (or its registry copy), then submit/load/start. */
export async function createTemplateInstances(controller: DeployController, arg: unknown, selection?: unknown): Promise<DeployResult[] | undefined> {
  const api = controller.api();
  if (!api) return undefined;
  const target = await pickTemplate(controller, arg, selection);
  if (!target) return undefined;
  const options = await templateOptions(controller, target);
  if (!options) return undefined;
  const example = templateInstances(target.name, ['7']);
  const spec = await vscode.window.showInputBox({
    title: `Fleet: Create Instances of ${target.name}`,
    prompt: `Instance names or ranges: 7 (${'names' in example ? example.names[0] : 'instance 7'}), 1..3, or a,b`,
    value: '1..3',
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
  const requests = made.names.map(name => ({ name, local: { name, options } }));
  if (action.op !== 'submit' && !(await controller.placeableOrAsked(api, action.op, requests, new Map()))) return undefined;
  return controller.run(api, action.op, requests);
}
