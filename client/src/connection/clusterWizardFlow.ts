/**
 * The Add/Edit Cluster wizard's flow over an injected UI (WizardUi), so the whole dialogue runs
 * in Node tests against real servers: ask the steps in order, test the connection under a
 * progress notification, then save and connect only as the user chooses. A failed test keeps
 * the answers and offers to change one of them (then tests again). Plain Node: no `vscode`.
 */
import { createFleetApi, type ConnectDeps } from './connect';
import {
  answersFromEntry,
  defaultAnswers,
  entryFromAnswers,
  REACH_CHOICES,
  splitTunnelInput,
  upsertEntry,
  validateName,
  type ReachChoice,
  type WizardAnswers,
} from './clusterWizard';
import { DEFAULT_KNOWN_HOSTS_FILE, resolveProfiles, type ResolveOptions } from './profile';
import { errorMessage } from '../../../protocol/src/log';

export interface PickItem<T> {
  label: string;
  description?: string;
  detail?: string;
  value: T;
}

/** What the wizard needs from the editor. `undefined` answers mean the user cancelled. */
export interface WizardUi {
  input(o: { step: string; prompt: string; value: string; placeholder?: string; validate(v: string): string | undefined }): Promise<string | undefined>;
  pick<T>(o: { step: string; placeholder: string; items: PickItem<T>[]; active?: T }): Promise<T | undefined>;
  /** A private key file; `current` preselects. */
  pickFile(o: { step: string; current?: string }): Promise<string | undefined>;
  progress<T>(title: string, task: () => Promise<T>): Promise<T>;
  /** A message with buttons; resolves to the chosen button or undefined. */
  ask(o: { kind: 'info' | 'error'; message: string; buttons: string[] }): Promise<string | undefined>;
}

export interface TestResult {
  ok: boolean;
  message: string;
}

/** Resolves the entry as a profile and lists machines and units through it (tunnel and all). */
export async function testClusterEntry(
  entry: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  deps: ConnectDeps = {},
  resolve: ResolveOptions = {},
): Promise<TestResult> {
  const { profiles, problems } = resolveProfiles([entry], {}, resolve);
  const errors = problems.filter(p => p.severity === 'error');
  const profile = profiles.find(p => p.source === 'settings');
  if (errors.length > 0 || !profile) return { ok: false, message: errors.map(p => p.message).join('\n') || 'The answers do not make a usable profile.' };
  let api;
  try {
    api = createFleetApi(profile, { ...deps, env });
    const machines = await api.listMachines();
    const units = await api.listUnits();
    return {
      ok: true,
      message: `Connected to ${api.label}: ${machines.length} machine${machines.length === 1 ? '' : 's'}, ${units.length} unit${units.length === 1 ? '' : 's'}.`,
    };
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  } finally {
    api?.dispose();
  }
}

export interface WizardDeps {
  ui: WizardUi;
  env: NodeJS.ProcessEnv;
  /** The current `fleet.clusters` list and the names already taken (settings + environment + local). */
  clusters: readonly unknown[];
  takenNames: readonly string[];
  test(entry: Record<string, unknown>): Promise<TestResult>;
  /** Writes `fleet.clusters` (and renames `fleet.activeCluster` when the edited profile was active). */
  save(list: unknown[], renamed?: { from: string; to: string }): Promise<void>;
  /** Makes the cluster active (only on "Connect now"). */
  connect(name: string): Promise<void>;
  choices?: readonly ReachChoice[];
}

export type WizardOutcome = { saved: false } | { saved: true; entry: Record<string, unknown>; connected: boolean; tested: TestResult };

type Step = 'name' | 'reach' | 'address' | 'tunnel' | 'user' | 'auth' | 'knownHosts';
const STEPS: Step[] = ['name', 'reach', 'address', 'tunnel', 'user', 'auth', 'knownHosts'];
export const CONNECT_NOW = 'Connect now';
export const SAVE_ONLY = 'Save without connecting';
export const CHANGE_ANSWER = 'Change an answer…';
export const SAVE_ANYWAY = 'Save anyway';
/** Bounds the test → change → test loop. */
const MAX_ROUNDS = 20;

/** Asks one step; false when the user cancelled. */
async function ask(step: Step, a: WizardAnswers, d: WizardDeps, editing: string | undefined): Promise<boolean> {
  const { ui } = d;
  const choices = d.choices ?? REACH_CHOICES;
  const n = `${STEPS.indexOf(step) + 1}/${STEPS.length}`;
  const choice = choices.find(c => c.id === a.reach) ?? choices[0]!;
  switch (step) {
    case 'name': {
      const v = await ui.input({
        step: n,
        prompt: 'A name for the cluster',
        value: a.name,
        placeholder: 'production',
        validate: x => validateName(x, d.takenNames, editing),
      });
      if (v === undefined) return false;
      a.name = v.trim();
      return true;
    }
    case 'reach': {
      const v = await ui.pick({
        step: n,
        placeholder: 'How does the extension reach fleet?',
        items: choices.map(c => ({ label: c.label, detail: c.detail, value: c.id })),
        active: a.reach,
      });
      if (v === undefined) return false;
      if (v !== a.reach) a.address = choices.find(c => c.id === v)!.defaultValue;
      a.reach = v;
      return true;
    }
    case 'address': {
      const v = await ui.input({ step: n, prompt: choice.prompt, value: a.address, placeholder: choice.placeholder, validate: x => choice.validate(x) });
      if (v === undefined) return false;
      a.address = v.trim();
      return true;
    }
    case 'tunnel': {
      const current = a.tunnel ? `${a.sshUser}@${a.tunnel}` : '';
      const v = await ui.input({
        step: n,
        prompt: choice.tunnelPrompt,
        value: current,
        placeholder: 'core@bastion.example.com:22',
        validate: x => ('error' in splitTunnelInput(x) ? (splitTunnelInput(x) as { error: string }).error : undefined),
      });
      if (v === undefined) return false;
      const split = splitTunnelInput(v) as { user?: string; tunnel: string };
      a.tunnel = split.tunnel;
      if (split.user) a.sshUser = split.user;
      return true;
    }
    case 'user': {
      const v = await ui.input({
        step: n,
        prompt: `The SSH user on ${a.tunnel ? 'the tunnel host and ' : ''}the machines (fleetctl --ssh-username)`,
        value: a.sshUser,
        placeholder: 'core',
        validate: x => (/^[^\s@:/]+$/.test(x.trim()) ? undefined : 'Enter a user name such as core.'),
      });
      if (v === undefined) return false;
      a.sshUser = v.trim();
      return true;
    }
    case 'auth': {
      const agent = d.env['SSH_AUTH_SOCK'];
      let auth: WizardAnswers['auth'] | undefined = 'identityFile';
      if (agent) {
        auth = await ui.pick<WizardAnswers['auth']>({
          step: n,
          placeholder: 'How to authenticate over SSH',
          items: [
            { label: 'ssh-agent', description: `SSH_AUTH_SOCK=${agent}`, detail: 'The keys loaded in your agent (ssh-add), as fleetctl does', value: 'agent' },
            { label: 'Identity file…', detail: 'A private key file', value: 'identityFile' },
          ],
          active: a.auth,
        });
        if (auth === undefined) return false;
      }
      a.auth = auth;
      if (auth === 'identityFile') {
        const file = await ui.pickFile({
          step: `${n}${agent ? '' : ' (no ssh-agent: SSH_AUTH_SOCK is not set)'}`,
          ...(a.identityFile ? { current: a.identityFile } : {}),
        });
        if (file === undefined) return false;
        a.identityFile = file;
      }
      return true;
    }
    case 'knownHosts': {
      const policy = await ui.pick<WizardAnswers['knownHosts']>({
        step: n,
        placeholder: 'Host keys of the tunnel host and the machines',
        items: [
          {
            label: 'Check, ask about new hosts',
            description: DEFAULT_KNOWN_HOSTS_FILE,
            detail: "Strict checking with fleetctl's known_hosts: refuse changed keys, trust on first use with a prompt",
            value: 'strict',
          },
          { label: 'Check against another known_hosts file…', detail: 'e.g. ~/.ssh/known_hosts', value: 'strict-file' },
          { label: 'Do not check host keys', detail: 'fleetctl --strict-host-key-checking=false: any key is accepted (not recommended)', value: 'off' },
        ],
        active: a.knownHosts,
      });
      if (policy === undefined) return false;
      a.knownHosts = policy;
      if (policy === 'strict-file') {
        const v = await ui.input({
          step: n,
          prompt: 'The known_hosts file',
          value: a.knownHostsFile,
          placeholder: '~/.ssh/known_hosts',
          validate: x => (x.trim() ? undefined : 'Enter a file path.'),
        });
        if (v === undefined) return false;
        a.knownHostsFile = v.trim();
      }
      return true;
    }
  }
}

/** Steps that apply to the answers (no SSH questions without a tunnel, except an identity file for none). */
function applicable(a: WizardAnswers): Step[] {
  return STEPS.filter(s => a.tunnel !== '' || !['user', 'auth', 'knownHosts'].includes(s));
}

function describe(step: Step, a: WizardAnswers, choices: readonly ReachChoice[]): string {
  switch (step) {
    case 'name':
      return a.name;
    case 'reach':
      return choices.find(c => c.id === a.reach)?.label ?? a.reach;
    case 'address':
      return a.address;
    case 'tunnel':
      return a.tunnel ? `${a.sshUser}@${a.tunnel}` : '(none)';
    case 'user':
      return a.sshUser;
    case 'auth':
      return a.auth === 'agent' ? 'ssh-agent' : a.identityFile;
    case 'knownHosts':
      return a.knownHosts === 'off' ? 'not checked' : a.knownHosts === 'strict-file' ? a.knownHostsFile : DEFAULT_KNOWN_HOSTS_FILE;
  }
}

const LABELS: Record<Step, string> = {
  name: 'Name',
  reach: 'How to reach fleet',
  address: 'Address',
  tunnel: 'Tunnel host',
  user: 'SSH user',
  auth: 'SSH authentication',
  knownHosts: 'Host keys',
};

/** Runs Add Cluster (no `editing`) or Edit Cluster (the entry's name and value). */
export async function runClusterWizard(d: WizardDeps, editing?: { name: string; entry: Record<string, unknown> }): Promise<WizardOutcome> {
  const choices = d.choices ?? REACH_CHOICES;
  const answers = editing ? answersFromEntry(editing.entry, d.env, choices) : defaultAnswers(d.env);
  for (const step of STEPS) {
    if (!applicable(answers).includes(step)) continue;
    if (!(await ask(step, answers, d, editing?.name))) return { saved: false };
  }
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const entry = entryFromAnswers(answers, editing?.entry ?? {}, choices);
    const tested = await d.ui.progress(`Fleet: testing the connection to ${answers.name}…`, () => d.test(entry));
    const choice = tested.ok
      ? await d.ui.ask({ kind: 'info', message: `${tested.message} Save "${answers.name}"?`, buttons: [CONNECT_NOW, SAVE_ONLY] })
      : await d.ui.ask({
          kind: 'error',
          message: `The connection test for "${answers.name}" failed: ${tested.message}`,
          buttons: [CHANGE_ANSWER, SAVE_ANYWAY],
        });
    if (choice === undefined) return { saved: false };
    if (choice === CHANGE_ANSWER) {
      const step = await d.ui.pick<Step>({
        step: 'fix',
        placeholder: 'Which answer do you want to change? (the others are kept)',
        items: applicable(answers).map(s => ({ label: LABELS[s], description: describe(s, answers, choices), value: s })),
      });
      if (step === undefined) return { saved: false };
      if (!(await ask(step, answers, d, editing?.name))) return { saved: false };
      // A new tunnel brings the SSH questions it needs.
      if (step === 'tunnel' || step === 'reach') {
        for (const s of applicable(answers))
          if (['user', 'auth', 'knownHosts'].includes(s) && answers.tunnel && !entry['tunnel'] && !(await ask(s, answers, d, editing?.name)))
            return { saved: false };
      }
      continue;
    }
    const list = upsertEntry(d.clusters, entry, editing?.name);
    await d.save(list, editing && editing.name !== entry['name'] ? { from: editing.name, to: entry['name'] as string } : undefined);
    const connected = choice === CONNECT_NOW;
    if (connected) await d.connect(entry['name'] as string);
    return { saved: true, entry, connected, tested };
  }
  return { saved: false };
}
