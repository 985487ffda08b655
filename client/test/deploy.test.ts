/**
 * Deploy planning and waiting against an in-memory cluster that behaves like fleetd (fleet's
 * API semantics for PUT/DELETE, an engine and agents that move one step per poll), plus
 * template instances, globs and local unit parsing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState, JobState, JournalLine } from '../../protocol/src/api';
import { isGlobalUnit, unitHash } from '../../unitfile/src';
import { FleetApiError, type FleetApi } from '../src/api/types';
import { toUnitOptions } from '../src/cluster/unitRows';
import { DeployCancelledError, planReplace, replaceUnit, runDeploy, type DeployOptions, type LocalUnit } from '../src/deploy/deploy';
import { localUnitFromText } from '../src/deploy/localUnit';
import { describeMatch, matchUnits, parseInstanceSpec, planStartMatching, templateInstances } from '../src/deploy/templates';

const M1 = '4d389537d9d14bdabe8be54a9c29f68d';
const M2 = '85c0e1a2b3c4d5e6f708192a3b4c5d6e';

interface FakeUnit {
  name: string;
  options: ApiUnitOption[];
  desiredState: JobState;
  currentState: JobState;
  machineID?: string;
  reason?: string;
}

/** A small fleetd: PUT/DELETE as fleet's API does; every read advances the engine and agents one step. */
class FakeCluster implements FleetApi {
  readonly label = 'fake://cluster';
  readonly units = new Map<string, FakeUnit>();
  readonly states = new Map<string, ApiUnitState>();
  readonly calls: string[] = [];
  /** Units the engine cannot place, with the reason it publishes. */
  readonly unplaceable = new Map<string, string>();
  /** Units whose start fails in systemd. */
  readonly failing = new Set<string>();
  /** Reads before the engine acts (slows the cluster down). */
  lag = 0;
  private reads = 0;
  machines: ApiMachine[] = [
    { id: M1, primaryIP: '10.1.1.7', metadata: { region: 'us-east' } },
    { id: M2, primaryIP: '10.1.1.8' },
  ];

  private tick(): void {
    if (++this.reads <= this.lag) return;
    for (const u of this.units.values()) {
      if (isGlobalUnit(toUnitOptions(u.options))) continue;
      if (u.desiredState === 'inactive') {
        delete u.machineID;
        u.currentState = 'inactive';
        this.states.delete(u.name);
        continue;
      }
      if (!u.machineID) {
        const reason = this.unplaceable.get(u.name);
        if (reason) {
          u.reason = reason;
          continue;
        }
        const load = (id: string) => [...this.units.values()].filter(x => x.machineID === id).length;
        u.machineID = [...this.machines].sort((a, b) => load(a.id) - load(b.id))[0]!.id;
        continue; // scheduled; the agent acts on the next read
      }
      if (u.currentState !== u.desiredState) {
        u.currentState = u.desiredState;
        const failed = u.desiredState === 'launched' && this.failing.has(u.name);
        this.states.set(u.name, {
          name: u.name,
          machineID: u.machineID,
          hash: unitHash(toUnitOptions(u.options)),
          systemdLoadState: 'loaded',
          systemdActiveState: u.desiredState === 'launched' ? (failed ? 'failed' : 'active') : 'inactive',
          systemdSubState: u.desiredState === 'launched' ? (failed ? 'failed' : 'running') : 'dead',
          ...(failed ? { detail: 'ExecStart exited with status 1' } : {}),
        });
      }
    }
  }

  private wire(u: FakeUnit): ApiUnit {
    return {
      name: u.name,
      options: u.options,
      desiredState: u.desiredState,
      currentState: u.currentState,
      ...(u.machineID ? { machineID: u.machineID } : {}),
      ...(u.reason ? { reason: u.reason } : {}),
    };
  }

  async listMachines() {
    this.calls.push('GET /machines');
    return this.machines;
  }
  async listUnits() {
    this.calls.push('GET /units');
    this.tick();
    return [...this.units.values()].map(u => this.wire(u));
  }
  async listUnitStates(_signal?: AbortSignal, filter?: { unitName?: string }) {
    this.calls.push(filter?.unitName ? `GET /state?unitName=${filter.unitName}` : 'GET /state');
    return [...this.states.values()].filter(s => !filter?.unitName || s.name === filter.unitName);
  }
  async getUnit(name: string) {
    this.calls.push(`GET /units/${name}`);
    this.tick();
    const u = this.units.get(name);
    return u ? this.wire(u) : undefined;
  }
  async createUnit(name: string, options: ApiUnitOption[], desiredState: JobState) {
    this.calls.push(`PUT /units/${name} options ${desiredState}`);
    const existing = this.units.get(name);
    if (existing && unitHash(toUnitOptions(existing.options)) === unitHash(toUnitOptions(options))) {
      existing.desiredState = desiredState;
      return;
    }
    if (existing) this.states.delete(name);
    this.units.set(name, { name, options, desiredState, currentState: 'inactive' });
  }
  async setUnitTargetState(name: string, desiredState: JobState) {
    this.calls.push(`PUT /units/${name} ${desiredState}`);
    const u = this.units.get(name);
    if (!u) throw new FleetApiError('unit does not exist and options field empty', 409);
    if (name.includes('@.') && desiredState !== 'inactive') throw new FleetApiError(`cannot activate template "${name}"`, 400);
    u.desiredState = desiredState;
  }
  async destroyUnit(name: string) {
    this.calls.push(`DELETE /units/${name}`);
    this.states.delete(name);
    return this.units.delete(name);
  }
  async journal(): Promise<JournalLine[]> {
    return [];
  }
  async followJournal(): Promise<void> {}
  dispose(): void {}
}

const opts = (over: Partial<DeployOptions> = {}): DeployOptions => ({ timeoutMs: 10_000, pollMs: 1, sleep: async () => undefined, ...over });

function local(name: string, extra: ApiUnitOption[] = []): LocalUnit {
  return {
    name,
    options: [
      { section: 'Service', name: 'ExecStart', value: `/bin/echo ${name}` },
      ...extra.map(o => ({ section: o.section, name: o.name, value: o.value ?? '' })),
    ],
  };
}

/** A fake clock: every sleep advances time, so timeouts are reached without waiting. */
function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe('submit, load, start', () => {
  test('start creates the unit with desiredState launched and waits until systemd reports it active', async () => {
    const api = new FakeCluster();
    const results = await runDeploy(api, 'start', [{ name: 'nginx.1.service', local: local('nginx.1.service') }], opts());
    assert.deepEqual(results, [{ name: 'nginx.1.service', ok: true, message: 'Unit nginx.1.service launched on 4d389537.../10.1.1.7', warnings: [] }]);
    assert.deepEqual(api.calls.slice(0, 2), ['GET /units/nginx.1.service', 'PUT /units/nginx.1.service options launched']);
    assert.equal(api.units.get('nginx.1.service')!.currentState, 'launched');
  });

  test('submit waits for inactive; load reports the machine', async () => {
    const api = new FakeCluster();
    const [s] = await runDeploy(api, 'submit', [{ name: 'a.service', local: local('a.service') }], opts());
    assert.equal(s!.message, 'Unit a.service submitted (inactive)');
    assert.equal(api.units.get('a.service')!.desiredState, 'inactive');
    const [l] = await runDeploy(api, 'load', [{ name: 'a.service', local: local('a.service') }], opts());
    assert.equal(l!.message, 'Unit a.service loaded on 4d389537.../10.1.1.7');
    assert.ok(api.calls.includes('PUT /units/a.service loaded'));
  });

  test('many units at once spread over the machines; each gets its own line', async () => {
    const api = new FakeCluster();
    const names = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service'];
    const results = await runDeploy(
      api,
      'start',
      names.map(name => ({ name, local: local(name) })),
      opts(),
    );
    assert.deepEqual(
      results.map(r => r.message),
      [
        'Unit nginx.1.service launched on 4d389537.../10.1.1.7',
        'Unit nginx.2.service launched on 85c0e1a2.../10.1.1.8',
        'Unit nginx.3.service launched on 4d389537.../10.1.1.7',
      ],
    );
  });

  test('an existing unit is not re-created; a differing local file gives a warning that names Replace', async () => {
    const api = new FakeCluster();
    await runDeploy(api, 'submit', [{ name: 'a.service', local: local('a.service') }], opts());
    const changed = local('a.service', [{ section: 'Service', name: 'Restart', value: 'always' }]);
    const [r] = await runDeploy(api, 'start', [{ name: 'a.service', local: changed }], opts());
    assert.equal(r!.ok, true);
    assert.deepEqual(r!.warnings, ['Unit a.service in the registry differs from the local unit file; run Fleet: Replace Unit to override.']);
    assert.equal(api.calls.filter(c => c.includes('options')).length, 1);
  });

  test("a unit the engine cannot place stops the wait within a second or so, with the engine's reason", async () => {
    const api = new FakeCluster();
    api.unplaceable.set('db.service', 'no machine has metadata region=moon');
    const c = clock();
    const [r] = await runDeploy(api, 'start', [{ name: 'db.service', local: local('db.service') }], opts({ timeoutMs: 60_000, pollMs: 250, ...c }));
    assert.equal(r!.ok, false);
    assert.equal(r!.unplaceable, true);
    assert.equal(r!.message, 'Unit db.service cannot be placed: no machine has metadata region=moon');
    assert.ok(c.now() >= 1000 && c.now() < 1500, `stopped at ${c.now()} ms, not after the 60 s budget`);
  });

  test('a unit that is merely slow still times out with the setting to raise', async () => {
    const api = new FakeCluster();
    api.lag = 1_000_000;
    const c = clock();
    const [r] = await runDeploy(api, 'start', [{ name: 'slow.service', local: local('slow.service') }], opts({ timeoutMs: 5000, pollMs: 250, ...c }));
    assert.equal(
      r!.message,
      'Unit slow.service did not become launched within 5s (current state inactive). Raise fleet.deploy.timeoutSeconds or check the unit in the Fleet explorer.',
    );
    // For a list of several units: the outcome, and the advice apart (said once).
    assert.equal(r!.summary, 'Unit slow.service did not become launched within 5s (current state inactive)');
    assert.equal(r!.advice, 'Raise fleet.deploy.timeoutSeconds or check the unit in the Fleet explorer.');
    assert.ok(c.now() >= 5000 && c.now() < 5500, `stopped at ${c.now()}`);
  });

  test('waiting for a few units reads just those units (GET /units/{name}, /state?unitName=) and reports each read', async () => {
    const api = new FakeCluster();
    const seen: string[] = [];
    const [r] = await runDeploy(
      api,
      'start',
      [{ name: 'one.service', local: local('one.service') }],
      opts({ onUnit: (u, states) => seen.push(`${u.name}:${u.currentState}:${states.map(s => s.systemdActiveState).join()}`) }),
    );
    assert.equal(r!.ok, true);
    const waits = api.calls.slice(api.calls.indexOf('PUT /units/one.service options launched') + 1);
    assert.ok(
      waits.every(c => c === 'GET /units/one.service' || c === 'GET /state?unitName=one.service' || c === 'GET /machines'),
      waits.join(', '),
    );
    assert.equal(seen.at(-1), 'one.service:launched:active');
  });

  test("a unit that fails in systemd fails fast with the agent's detail", async () => {
    const api = new FakeCluster();
    api.failing.add('bad.service');
    const [r] = await runDeploy(api, 'start', [{ name: 'bad.service', local: local('bad.service') }], opts());
    assert.equal(r!.ok, false);
    assert.equal(r!.message, 'Unit bad.service failed on 4d389537...: ExecStart exited with status 1; see Fleet: Show Journal.');
  });

  test('a unit that keeps crashing (Restart= loop) is reported as started but failing, not as launched', async () => {
    const api = new FakeCluster();
    const listStates = api.listUnitStates.bind(api);
    api.listUnitStates = async (signal?: AbortSignal, filter?: { unitName?: string }) =>
      (await listStates(signal, filter)).map(s =>
        s.name === 'loop.service'
          ? {
              ...s,
              systemdActiveState: 'activating',
              systemdSubState: 'auto-restart',
              detail: 'Main process exited, code=exited, status=1/FAILURE; restarted 2 times',
            }
          : s,
      );
    const [r] = await runDeploy(api, 'start', [{ name: 'loop.service', local: local('loop.service') }], opts());
    assert.equal(r!.ok, false);
    assert.equal(
      r!.message,
      'Unit loop.service started, but it keeps failing on 4d389537...: Main process exited, code=exited, status=1/FAILURE; restarted 2 times; see Fleet: Show Journal.',
    );
    assert.equal(r!.failing, true, 'it ran: its journal says why');
  });

  test('one failing unit does not stop the others', async () => {
    const api = new FakeCluster();
    const results = await runDeploy(api, 'start', [{ name: 'missing.service' }, { name: 'ok.service', local: local('ok.service') }], opts());
    assert.equal(results[0]!.ok, false);
    assert.match(results[0]!.message, /missing.service is not in the registry and there is no local unit file/);
    assert.equal(results[1]!.ok, true);
  });

  test('templates cannot be started; the message names the fix', async () => {
    const api = new FakeCluster();
    const [r] = await runDeploy(api, 'start', [{ name: 'web@.service', local: local('web@.service') }], opts());
    assert.equal(r!.ok, false);
    assert.equal(
      r!.message,
      'Unit web@.service is a template and cannot be launched; submit it, then start instances such as web@1.service (Fleet: Create Template Instances).',
    );
    assert.deepEqual(api.calls, []);
  });

  test('a global unit is triggered, not waited for', async () => {
    const api = new FakeCluster();
    const g = local('monitor.service', [{ section: 'X-Fleet', name: 'Global', value: 'true' }]);
    const [r] = await runDeploy(api, 'start', [{ name: 'monitor.service', local: g }], opts());
    assert.deepEqual(r, { name: 'monitor.service', ok: true, message: 'Triggered global unit monitor.service start', warnings: [] });
    assert.ok(!api.calls.includes('GET /units'));
  });

  test('timeout 0 is fleetctl --no-block', async () => {
    const api = new FakeCluster();
    const [r] = await runDeploy(api, 'start', [{ name: 'a.service', local: local('a.service') }], opts({ timeoutMs: 0 }));
    assert.equal(r!.message, 'Triggered unit a.service start');
  });

  test('cancelling stops the wait with DeployCancelledError', async () => {
    const api = new FakeCluster();
    api.lag = 1000;
    const abort = new AbortController();
    let polls = 0;
    const sleep = async () => {
      if (++polls === 3) abort.abort();
    };
    await assert.rejects(
      runDeploy(api, 'start', [{ name: 'a.service', local: local('a.service') }], opts({ signal: abort.signal, sleep })),
      DeployCancelledError,
    );
    assert.equal(polls, 3);
  });

  test('a unit destroyed by someone else while waiting is reported', async () => {
    const api = new FakeCluster();
    api.lag = 1000;
    let n = 0;
    const sleep = async () => {
      if (++n === 2) await api.destroyUnit('a.service');
    };
    const [r] = await runDeploy(api, 'start', [{ name: 'a.service', local: local('a.service') }], opts({ sleep }));
    assert.equal(r!.message, 'Unit a.service disappeared from the registry while waiting (destroyed by someone else?)');
  });

  test('an unreachable cluster while waiting keeps polling until the budget ends', async () => {
    const api = new FakeCluster();
    await runDeploy(api, 'submit', [{ name: 'a.service', local: local('a.service') }], opts());
    api.listUnits = async () => {
      throw new FleetApiError('connect ECONNREFUSED', undefined, 'network');
    };
    // The first read (is it in the registry?) answers; every read of the wait is refused.
    const getUnit = api.getUnit.bind(api);
    let reads = 0;
    api.getUnit = async (name: string) => {
      if (reads++ > 0) throw new FleetApiError('connect ECONNREFUSED', undefined, 'network');
      return getUnit(name);
    };
    const c = clock();
    const [r] = await runDeploy(api, 'load', [{ name: 'a.service' }], opts({ timeoutMs: 1000, pollMs: 100, ...c }));
    assert.ok(reads > 5, `kept polling (${reads} reads)`);
    assert.equal(r!.ok, false);
    assert.match(r!.message, /did not become loaded within 1s/);
  });
});

describe('stop, unload, destroy', () => {
  async function launched(api: FakeCluster, name: string) {
    await runDeploy(api, 'start', [{ name, local: local(name) }], opts());
  }

  test('stop goes back to loaded, unload to inactive', async () => {
    const api = new FakeCluster();
    await launched(api, 'a.service');
    const [s] = await runDeploy(api, 'stop', [{ name: 'a.service' }], opts());
    assert.equal(s!.message, 'Unit a.service stopped on 4d389537.../10.1.1.7');
    assert.equal(api.states.get('a.service')!.systemdActiveState, 'inactive');
    const [again] = await runDeploy(api, 'stop', [{ name: 'a.service' }], opts());
    assert.equal(again!.message, 'Unit a.service is already stopped (loaded)');
    const [u] = await runDeploy(api, 'unload', [{ name: 'a.service' }], opts());
    assert.equal(u!.message, 'Unit a.service unloaded (inactive)');
    assert.equal(api.states.has('a.service'), false);
  });

  test('stop refuses an inactive unit, as fleetctl does', async () => {
    const api = new FakeCluster();
    await runDeploy(api, 'submit', [{ name: 'a.service', local: local('a.service') }], opts());
    const [r] = await runDeploy(api, 'stop', [{ name: 'a.service' }], opts());
    assert.deepEqual([r!.ok, r!.message], [false, 'Unable to stop unit a.service in state inactive; load or start it first.']);
  });

  test('destroy removes units and tolerates missing ones', async () => {
    const api = new FakeCluster();
    await launched(api, 'a.service');
    const results = await runDeploy(api, 'destroy', [{ name: 'a.service' }, { name: 'gone.service' }, { name: 'a.service' }], opts());
    assert.deepEqual(
      results.map(r => [r.ok, r.message]),
      [
        [true, 'Destroyed a.service'],
        [true, 'Unit gone.service was not in the registry; nothing to destroy'],
      ],
    );
    assert.equal(api.units.size, 0);
  });
});

describe('replace', () => {
  test('plans create, identical or replace by comparing unit hashes', async () => {
    const api = new FakeCluster();
    const a = local('a.service');
    assert.equal((await planReplace(api, a)).kind, 'create');
    await runDeploy(api, 'start', [{ name: 'a.service', local: a }], opts());
    assert.equal((await planReplace(api, a)).kind, 'identical');
    const plan = await planReplace(api, local('a.service', [{ section: 'Service', name: 'Restart', value: 'always' }]));
    assert.deepEqual([plan.kind, plan.desiredState], ['replace', 'launched']);
  });

  test('replace puts the new options and brings the unit back to its desired state', async () => {
    const api = new FakeCluster();
    await runDeploy(api, 'start', [{ name: 'a.service', local: local('a.service') }], opts());
    const changed = local('a.service', [{ section: 'Service', name: 'Restart', value: 'always' }]);
    const plan = await planReplace(api, changed);
    const r = await replaceUnit(api, changed, plan, opts());
    assert.equal(r.message, 'Unit a.service replaced; launched on 4d389537.../10.1.1.7');
    assert.deepEqual(api.units.get('a.service')!.options, changed.options);
    assert.equal(api.states.get('a.service')!.hash, unitHash(changed.options));
    assert.deepEqual(r.warnings, []);
  });
});

describe('template instances and globs', () => {
  test('instance specs: names and ranges, not counts', () => {
    assert.deepEqual(parseInstanceSpec('7'), { instances: ['7'] }, '7 is web@7.service, not seven instances');
    assert.deepEqual(parseInstanceSpec('1..3'), { instances: ['1', '2', '3'] });
    assert.deepEqual(parseInstanceSpec('a,b'), { instances: ['a', 'b'] });
    assert.deepEqual(parseInstanceSpec(' 2..4 '), { instances: ['2', '3', '4'] });
    assert.deepEqual(parseInstanceSpec('1-2, 7,blue,1'), { instances: ['1', '2', '7', 'blue'] });
    assert.deepEqual(parseInstanceSpec('0'), { instances: ['0'] });
    assert.deepEqual(parseInstanceSpec(''), { error: 'Enter instance names or ranges: 7 (web@7.service), 1..3 (three instances) or a,b (a list).' });
    assert.deepEqual(parseInstanceSpec('5..2'), { error: 'The range 5..2 is empty; write the lower bound first (e.g. 2..5).' });
    assert.deepEqual(parseInstanceSpec('a b'), { error: '"a b" is not a valid instance name; use letters, digits, "_", ".", ":", "-" or "\\".' });
    assert.deepEqual(parseInstanceSpec('1..5000'), { error: 'At most 1000 instances at once.' });
  });

  test('Start Units Matching: registry first, then files, never templates; an instance name is made from its template', () => {
    const registry = ['nginx.1.service', 'web@.service', 'db@.service'];
    const files = ['nginx.1.service', 'nginx.2.service', 'web@.service', 'web@1.service'];
    assert.deepEqual(planStartMatching('nginx.*.service', registry, files), {
      units: [
        { name: 'nginx.1.service', source: { kind: 'registry' } },
        { name: 'nginx.2.service', source: { kind: 'file' } },
      ],
    });
    assert.deepEqual(planStartMatching('web@*.service', registry, files), { units: [{ name: 'web@1.service', source: { kind: 'file' } }] });
    assert.deepEqual(planStartMatching('web@7.service', registry, files), {
      units: [{ name: 'web@7.service', source: { kind: 'template', template: 'web@.service', templateIn: 'file' } }],
    });
    assert.deepEqual(planStartMatching('db@blue.service', registry, files), {
      units: [{ name: 'db@blue.service', source: { kind: 'template', template: 'db@.service', templateIn: 'registry' } }],
    });
    assert.deepEqual(planStartMatching('cache@1.service', registry, files), { units: [] }, 'no template: nothing');
    assert.deepEqual(planStartMatching('web@.service', registry, files), { units: [] }, 'a template is not started');
    assert.ok('error' in planStartMatching('nginx.[.service', registry, files));
    assert.equal(
      describeMatch({ name: 'web@7.service', source: { kind: 'template', template: 'web@.service', templateIn: 'file' } }),
      'a new instance of web@.service (workspace file)',
    );
  });

  test('template instance names', () => {
    assert.deepEqual(templateInstances('web@.service', ['1', '2']), { names: ['web@1.service', 'web@2.service'] });
    assert.deepEqual(templateInstances('web.service', ['1']), {
      error: 'web.service is not a template unit; a template\'s name ends in "@" before the type, e.g. web@.service.',
    });
  });

  test('glob matching over unit names', () => {
    const names = ['nginx.1.service', 'nginx.2.service', 'nginx-announce.1.service', 'monitor.service'];
    assert.deepEqual(matchUnits('nginx.*.service', names), { names: ['nginx.1.service', 'nginx.2.service'] });
    assert.deepEqual(matchUnits('monitor.service', names), { names: ['monitor.service'] });
    assert.deepEqual(matchUnits('  ', names), { error: 'Enter a unit name or a glob such as nginx.*.service.' });
    assert.ok('error' in matchUnits('nginx.[.service', names));
  });
});

describe('local unit files', () => {
  test("the file name is the unit name; options come from fleet's parser", () => {
    const r = localUnitFromText('/home/me/units/web@1.service', '[Service]\nExecStart=/bin/true\n');
    assert.deepEqual(r, { unit: { name: 'web@1.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }] } });
    assert.deepEqual(localUnitFromText('C:\\units\\hello', '[Service]\nExecStart=/bin/true\n'), {
      unit: { name: 'hello.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }] },
    });
  });

  test('files fleet would refuse are refused with the reason', () => {
    assert.deepEqual(localUnitFromText('/x/empty.service', '# nothing\n'), {
      error: 'Cannot submit empty.service: the file has no options; add at least a [Service] section with ExecStart=.',
    });
    const bad = localUnitFromText('/x/bad.service', '[Service\nExecStart=/bin/true\n');
    assert.ok('error' in bad && bad.error.startsWith('Cannot submit bad.service: fleet cannot parse it: '), JSON.stringify(bad));
  });
});
