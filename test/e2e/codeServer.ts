/**
 * A real VS Code for tests and for `npm start`: code-server 4.100.3 (VS Code 1.100.3, Node 20)
 * from `.ci/tools`, with a fresh user-data dir, extensions dir and TMPDIR per run, output to a log
 * file, started in its own process group and stopped as a whole (parent wrapper, `entry`, file
 * watcher, extension hosts and the language server). See /work/shared/docs/test-infra.md §1b.
 *
 *   const cs = await CodeServer.start({ vsix: [VSIX], folder: ws });
 *   cs.workbenchUrl(ws)  // http://127.0.0.1:PORT/?folder=…
 *   await cs.stop();
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/ports';
import { spawnDetached, stopSpawned, stopTagged, tail, waitFor, type Spawned } from '../support/process';
import { type Requirement } from '../support/requirements';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TOOLS_DIR = path.join(ROOT, '.ci', 'tools');
export const CODE_SERVER_BIN = path.join(TOOLS_DIR, 'node_modules', '.bin', 'code-server');
/** The packaged extension `npm run package` writes; FLEET_VSIX overrides. */
export const VSIX = process.env.FLEET_VSIX ? path.resolve(process.env.FLEET_VSIX) : path.join(ROOT, 'out', 'vscode-fleet.vsix');
export const EXTENSION_ID = 'fleet-tools.vscode-fleet';

/** Settings that keep a fresh profile quiet: no walkthrough tab, no chat side bar, no update or telemetry traffic. */
export const QUIET_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'chat.disableAIFeatures': true,
};

export const codeServerInstalled = (): Requirement => ({
  name: 'code-server',
  missing: fs.existsSync(CODE_SERVER_BIN)
    ? undefined
    : `code-server is not installed in .ci/tools (install it with: bash scripts/lib/deps.sh; see .ci/README.md)`,
});

export interface CodeServerOptions {
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  /** .vsix files installed into the fresh extensions dir before start. */
  vsix?: readonly string[];
  /** Settings merged over QUIET_SETTINGS into the fresh profile. */
  settings?: Record<string, unknown>;
  /** Folder code-server opens by default (the browser URL's ?folder= wins). */
  folder?: string;
  /** Extra environment for code-server, hence for the extension host and the language server. */
  env?: NodeJS.ProcessEnv;
  /** Parent for the per-run directory; default os.tmpdir(). */
  parentDir?: string;
}

/** The environment without variables that would tie code-server to another VS Code or to node:test. */
function cleanEnv(extra: NodeJS.ProcessEnv | undefined, tmp: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('VSCODE_') || k === 'NODE_TEST_CONTEXT' || k === 'NODE_OPTIONS' || k === 'ELECTRON_RUN_AS_NODE') continue;
    env[k] = v;
  }
  // VS Code leaves vscode-ipc-*.sock and vscode-git-*.sock in os.tmpdir(): keep them in the run's dir.
  // RUN_TAG marks every process this server causes, even ones that leave its process group.
  // FLEETD_RUNTIME_DIR: the extension adopts only the local clusters of this server's own run.
  return { ...env, TMPDIR: tmp, [RUN_TAG]: tmp, FLEETD_RUNTIME_DIR: `${tmp}/fleetd-run`, ...extra };
}

/** Environment variable (value: the run's tmp dir) inherited by everything a CodeServer starts. */
const RUN_TAG = 'FLEET_CODE_SERVER_RUN';

export class CodeServer {
  private process: Spawned | undefined;

  private constructor(
    readonly port: number,
    /** The per-run directory: config.yaml, user-data/, extensions/, tmp/, code-server.log. */
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The authority of `vscode-remote://` URIs for this server. */
  get authority(): string {
    return `127.0.0.1:${this.port}`;
  }

  get userDataDir(): string {
    return path.join(this.dir, 'user-data');
  }

  get extensionsDir(): string {
    return path.join(this.dir, 'extensions');
  }

  get logFile(): string {
    return path.join(this.dir, 'code-server.log');
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  private get commonArgs(): string[] {
    // Always --config: without it code-server writes ~/.config/code-server/config.yaml, even for --version.
    return ['--config', path.join(this.dir, 'config.yaml'), '--user-data-dir', this.userDataDir, '--extensions-dir', this.extensionsDir];
  }

  static async start(options: CodeServerOptions = {}): Promise<CodeServer> {
    if (!fs.existsSync(CODE_SERVER_BIN)) throw new Error(codeServerInstalled().missing);
    const dir = fs.mkdtempSync(path.join(options.parentDir ?? os.tmpdir(), 'fleet-code-server-'));
    const port = options.port ?? (await freePort());
    const tmp = path.join(dir, 'tmp');
    const cs = new CodeServer(port, dir, cleanEnv(options.env, tmp));
    fs.mkdirSync(tmp);
    fs.mkdirSync(cs.extensionsDir);
    fs.mkdirSync(path.join(cs.userDataDir, 'User'), { recursive: true });
    fs.writeFileSync(path.join(cs.userDataDir, 'User', 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...options.settings }, null, 2));
    fs.writeFileSync(path.join(dir, 'config.yaml'), `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
    try {
      for (const vsix of options.vsix ?? []) await cs.installExtension(vsix);
      await cs.launch(options.folder);
    } catch (err) {
      await cs.stop({ keepDir: true });
      throw err;
    }
    return cs;
  }

  /** `code-server --install-extension` into this run's extensions dir (works while the server runs). */
  async installExtension(vsix: string): Promise<void> {
    if (!fs.existsSync(vsix)) throw new Error(`no extension package at ${vsix} (run: npm run package)`);
    try {
      const { stdout, stderr } = await promisify(execFile)(CODE_SERVER_BIN, [...this.commonArgs, '--install-extension', vsix], {
        env: this.env,
        timeout: 120_000,
      });
      fs.appendFileSync(this.logFile, `--- install ${vsix}\n${stdout}${stderr}`);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`code-server --install-extension ${vsix} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  private async launch(folder: string | undefined): Promise<void> {
    const args = [
      ...this.commonArgs,
      '--bind-addr',
      this.authority,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      ...(folder ? [folder] : []),
    ];
    const started = spawnDetached(CODE_SERVER_BIN, args, { logFile: this.logFile, env: this.env });
    this.process = started;
    await waitFor(`code-server on ${this.baseUrl}/healthz`, async () => (await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) })).ok, {
      timeoutMs: 30_000,
      intervalMs: 100,
      abortIf: () => (started.hasExited() ? `code-server exited:\n${tail(this.logFile)}` : undefined),
    });
  }

  /** `vscode-remote://127.0.0.1:PORT/abs/path`, the form the workbench's payload parameter takes. */
  remoteUri(absolutePath: string): string {
    return `vscode-remote://${this.authority}${absolutePath}`;
  }

  /**
   * The workbench URL for a folder. `payload` pairs go to the workbench's `payload` parameter,
   * e.g. [['extensionDevelopmentPath', cs.remoteUri(ROOT)], ['extensionTestsPath', cs.remoteUri(suite)]].
   */
  workbenchUrl(folder: string, payload?: readonly (readonly [string, string])[]): string {
    let url = `${this.baseUrl}/?folder=${encodeURIComponent(folder)}`;
    if (payload?.length) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return url;
  }

  logTail(lines = 60): string {
    return tail(this.logFile, lines);
  }

  /** Stops the whole process group and removes the run's directory (kept when FLEET_E2E_KEEP=1). */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p) await stopSpawned(p, { timeoutMs: 10_000 });
    // Processes the extension host started in their own process groups (a local fleetd cluster).
    const strays = await stopTagged(RUN_TAG, this.env[RUN_TAG] ?? '');
    if (strays) process.stderr.write(`stopped ${strays} process(es) that code-server's extensions left running\n`);
    if (options.keepDir || process.env.FLEET_E2E_KEEP === '1') {
      process.stderr.write(`code-server run directory kept: ${this.dir}\n`);
      return;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
