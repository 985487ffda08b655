import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentArgs, ConfigError, parseConfig } from '../src/config';
import { FLAGS, helpText } from '../src/configFlags';
import { parseGoDuration, parseListen, parseMetadata } from '../src/configValues';

describe('fleetd flags and FLEET_* environment', () => {
  test("local defaults: 3 machines, embedded registry, no TCP API (the unix socket in the state dir), fleet's 30s TTL", () => {
    const c = parseConfig(['local'], {});
    assert.equal(c.command, 'local');
    assert.equal(c.machines, 3);
    assert.deepEqual(c.registry, { kind: 'embedded' });
    assert.equal(c.api, undefined);
    assert.equal(c.socket, undefined);
    assert.equal(c.agentTtlMs, 30_000);
    assert.equal(c.prefix, '/_coreos.com/fleet/');
    assert.ok(Object.isFrozen(c));
  });

  test('the i-th --metadata goes to the i-th machine', () => {
    const c = parseConfig(['local', '--machines', '3', '--metadata', 'region=east', '--metadata=region=west, disk=ssd', '--api', '127.0.0.1:49153'], {});
    assert.deepEqual(c.metadata, [{ region: 'east' }, { region: 'west', disk: 'ssd' }]);
    assert.deepEqual(c.api, { host: '127.0.0.1', port: 49153 });
  });

  test('registry choice: --etcd, --etcd-binary, --embedded, FLEET_ETCD_SERVERS, and conflicts', () => {
    assert.deepEqual(parseConfig(['local', '--etcd', 'http://127.0.0.1:2379,http://127.0.0.1:4001'], {}).registry, {
      kind: 'etcd',
      endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:4001'],
    });
    assert.deepEqual(parseConfig(['local', '--etcd-binary', '/usr/bin/etcd'], {}).registry, { kind: 'etcd-binary', path: '/usr/bin/etcd' });
    assert.deepEqual(parseConfig(['agent'], { FLEET_ETCD_SERVERS: 'http://10.0.0.1:2379' }).registry, { kind: 'etcd', endpoints: ['http://10.0.0.1:2379'] });
    assert.deepEqual(parseConfig(['agent'], {}).registry, { kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] });
    assert.throws(() => parseConfig(['local', '--embedded', '--etcd', 'http://x:1'], {}), /choose one registry/);
    assert.throws(() => parseConfig(['local', '--etcd', 'x:1'], {}), /--etcd: "x:1" is not an http\(s\) URL/);
  });

  test("--etcd-api: v3 by default, v2 for fleet v1.0's keyspace (passed on to every machine), refused without etcd", () => {
    assert.equal(parseConfig(['local', '--etcd-binary', '/usr/bin/etcd'], {}).etcdApi, 'v3');
    const c = parseConfig(['local', '--etcd-binary', '/usr/bin/etcd', '--etcd-api', 'v2'], {});
    assert.equal(c.etcdApi, 'v2');
    assert.ok(agentArgs(c, 0, { id: 'm1', stateDir: '/s/m1', publicIp: '127.0.0.2' }, ['http://127.0.0.1:2379']).join(' ').includes('--etcd-api v2'));
    assert.equal(parseConfig(['agent'], { FLEET_ETCD_API: 'v2' }).etcdApi, 'v2');
    assert.throws(() => parseConfig(['local', '--etcd-api', 'v2'], {}), /--etcd-api: the embedded registry has no etcd; add --etcd URL or --etcd-binary PATH/);
    assert.throws(() => parseConfig(['agent', '--etcd-api', '2'], {}), /--etcd-api: "2" is not v2 or v3/);
    assert.match(helpText(), /--etcd-api v2\|v3 .*fleet v1\.0's own keys/);
  });

  test('flags override the environment, and errors name the variable they came from', () => {
    const c = parseConfig(['agent', '--agent-ttl', '5s'], { FLEET_AGENT_TTL: '1m', FLEET_METADATA: 'role=db', FLEET_PUBLIC_IP: '10.0.0.2' });
    assert.equal(c.agentTtlMs, 5000);
    assert.deepEqual(c.metadata, [{ role: 'db' }]);
    assert.equal(c.publicIp, '10.0.0.2');
    assert.throws(() => parseConfig(['agent'], { FLEET_AGENT_TTL: 'soon' }), /^ConfigError: FLEET_AGENT_TTL: "soon" is not a duration/);
    assert.throws(() => parseConfig(['agent'], { FLEET_MACHINE_ID: 'xyz' }), /FLEET_MACHINE_ID: "xyz" is not 32 lowercase hex digits/);
  });

  test('bad input is named with its fix', () => {
    const cases: [string[], RegExp][] = [
      [['start'], /unknown command "start"/],
      [['local', '--machine', '3'], /unknown flag --machine/],
      [['local', '--machines', '0'], /--machines: "0" is not a whole number from 1 to 64/],
      [['local', '--machines', '2', '--metadata', 'a=1', '--metadata', 'a=2', '--metadata', 'a=3'], /--metadata given 3 times for 2 machines/],
      [['local', '--metadata', 'region'], /--metadata: "region" is not key=value/],
      [['local', '--api', '127.0.0.1'], /--api: "127.0.0.1" is not HOST:PORT/],
      [['local', '--api'], /--api needs a value/],
      [['local', '--machines', '2', '--machines', '3'], /--machines given twice/],
      [['agent', '--machines', '3'], /--machines is not a flag of `fleetd agent`/],
      [['local', 'extra'], /unexpected argument "extra"/],
      [['agent', '--agent-ttl', '100ms'], /shorter than 1s/],
    ];
    for (const [argv, re] of cases)
      assert.throws(
        () => parseConfig(argv, {}),
        (err: unknown) => err instanceof ConfigError && re.test(err.message),
        argv.join(' '),
      );
  });

  test('Go durations and listen addresses', () => {
    assert.equal(parseGoDuration('1m30s', 'x'), 90_000);
    assert.equal(parseGoDuration('500ms', 'x'), 500);
    assert.equal(parseGoDuration('1.5h', 'x'), 5_400_000);
    assert.throws(() => parseGoDuration('30', 'x'));
    assert.deepEqual(parseListen('[::1]:80', 'x'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen(':8080', 'x'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseMetadata(' a = 1 ,b=x=y,,'), { a: '1', b: 'x=y' });
  });

  test('--help documents every flag and FLEET_* variable', () => {
    const help = helpText();
    for (const f of FLAGS) {
      assert.ok(help.includes(`--${f.name}`), f.name);
      if (f.env) assert.ok(help.includes(f.env), f.env);
    }
    assert.equal(parseConfig(['--help'], {}).command, 'help');
    assert.equal(parseConfig(['local', '-h'], {}).command, 'help');
  });

  test('agentArgs round-trips through parseConfig', () => {
    const local = parseConfig(['local', '--machines', '2', '--metadata', 'region=east,disk=ssd', '--etcd', 'http://127.0.0.1:2379', '--agent-ttl', '4s'], {});
    const argv = agentArgs(local, 0, { id: 'a'.repeat(32), publicIp: '127.0.0.2', stateDir: '/tmp/m1' }, ['http://127.0.0.1:2379']);
    const agent = parseConfig(argv, {});
    assert.equal(agent.command, 'agent');
    assert.equal(agent.machineId, 'a'.repeat(32));
    assert.deepEqual(agent.metadata, [{ region: 'east', disk: 'ssd' }]);
    assert.equal(agent.agentTtlMs, 4000);
    assert.deepEqual(agent.registry, { kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] });
    assert.equal(agent.publicIp, '127.0.0.2');
  });
});
