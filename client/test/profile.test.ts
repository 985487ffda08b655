import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  describeProfile,
  ENVIRONMENT_PROFILE_NAME,
  parseEndpoint,
  parseGoBool,
  parseTunnel,
  PROFILE_FIELDS,
  resolveProfiles,
  type ClusterProfile,
  type ProfileProblem,
} from '../src/connection/profile';

const HOME = '/home/dev';
const resolve = (settings: unknown[], env: NodeJS.ProcessEnv = {}, sshConfig = '') => resolveProfiles(settings, env, { home: HOME, sshConfig });
const errors = (problems: ProfileProblem[]) => problems.filter(p => p.severity === 'error');

describe('parseEndpoint', () => {
  it('normalises the schemes fleetctl accepts', () => {
    assert.deepEqual(parseEndpoint('http://10.0.0.1:49153'), { value: 'http://10.0.0.1:49153' });
    assert.deepEqual(parseEndpoint('https://fleet.example.com/api/'), { value: 'https://fleet.example.com/api' });
    assert.deepEqual(parseEndpoint('unix:///var/run/fleet.sock'), { value: 'unix:///var/run/fleet.sock' });
    assert.deepEqual(parseEndpoint('file:///var/run/fleet.sock'), { value: 'unix:///var/run/fleet.sock' });
  });
  it("names the fix for fleetctl's classic mistakes", () => {
    assert.deepEqual(parseEndpoint('unix://var/run/fleet.sock'), {
      error: 'unable to connect to host "var" with scheme "unix": a unix socket needs three slashes, e.g. unix:///var/run/fleet.sock',
    });
    assert.deepEqual(parseEndpoint('127.0.0.1:49153'), {
      error: '"127.0.0.1:49153" has no scheme; write http://127.0.0.1:49153 (TCP) or unix:///path/to/fleet.sock (unix socket)',
    });
    assert.match((parseEndpoint('ftp://x') as { error: string }).error, /unsupported scheme "ftp".*http:\/\/, https:\/\/ or unix:\/\//);
    assert.match((parseEndpoint('') as { error: string }).error, /empty/);
  });
  it('uses the first of a comma list, with a warning, as fleetctl', () => {
    assert.deepEqual(parseEndpoint('http://a:1,http://b:2'), {
      value: 'http://a:1',
      warning: 'several endpoints given; only the first (http://a:1) is used, as fleetctl does',
    });
  });
});

describe('parseTunnel and parseGoBool', () => {
  it('parses host[:port]', () => {
    assert.deepEqual(parseTunnel('bastion'), { value: { host: 'bastion', port: undefined } });
    assert.deepEqual(parseTunnel('10.0.0.1:2222'), { value: { host: '10.0.0.1', port: 2222 } });
    assert.deepEqual(parseTunnel('[::1]:22'), { value: { host: '::1', port: 22 } });
    assert.match((parseTunnel('::1') as { error: string }).error, /IPv6.*\[::1\]:22/);
    assert.match((parseTunnel('core@bastion') as { error: string }).error, /sshUser/);
    assert.match((parseTunnel('host:99999') as { error: string }).error, /not a port/);
  });
  it('reads booleans as Go does', () => {
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(parseGoBool(t), true);
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(parseGoBool(f), false);
    assert.equal(parseGoBool('yes'), undefined);
  });
});

describe('resolveProfiles: settings', () => {
  it('applies fleetctl defaults', () => {
    const { profiles, problems } = resolve([{ name: 'prod', endpoint: 'http://10.0.0.1:49153' }]);
    assert.deepEqual(problems, []);
    assert.deepEqual(profiles, [
      {
        name: 'prod',
        endpoint: 'http://10.0.0.1:49153',
        driver: 'api',
        etcdKeyPrefix: '/_coreos.com/fleet/',
        sshUser: 'core',
        knownHostsFile: '/home/dev/.fleetctl/known_hosts',
        strictHostKeyChecking: true,
        requestTimeoutMs: 10_000,
        sshTimeoutMs: 10_000,
        source: 'settings',
      } satisfies ClusterProfile,
    ]);
  });

  it('reads every field, timeouts in seconds or milliseconds, ~ expanded', () => {
    const { profiles, problems } = resolve([
      {
        name: 'tls',
        endpoint: 'https://fleet:8443',
        tunnel: 'bastion',
        sshUser: 'ops',
        identityFile: '~/.ssh/id_fleet',
        knownHostsFile: '~/kh',
        strictHostKeyChecking: false,
        requestTimeout: 2.5,
        sshTimeoutMs: 3000,
        caFile: '~/ca.pem',
        certFile: '/c.pem',
        keyFile: '/k.pem',
      },
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(profiles[0], {
      name: 'tls',
      endpoint: 'https://fleet:8443',
      driver: 'api',
      etcdKeyPrefix: '/_coreos.com/fleet/',
      tunnel: 'bastion:22',
      tunnelTarget: { host: 'bastion', port: 22, user: 'ops', identityFile: '/home/dev/.ssh/id_fleet' },
      sshUser: 'ops',
      identityFile: '/home/dev/.ssh/id_fleet',
      knownHostsFile: '/home/dev/kh',
      strictHostKeyChecking: false,
      requestTimeoutMs: 2500,
      sshTimeoutMs: 3000,
      caFile: '/home/dev/ca.pem',
      certFile: '/c.pem',
      keyFile: '/k.pem',
      source: 'settings',
    });
  });

  it('rejects bad entries with the profile, the field and the fix, and keeps the good ones', () => {
    const { profiles, problems } = resolve([
      { name: 'ok', endpoint: 'http://a:1' },
      { name: 'socket', endpoint: 'unix://var/run/fleet.sock' },
      { endpoint: 'http://b:2' },
      'prod',
      { name: 'ok', endpoint: 'http://c:3' },
      { name: 'types', endpoint: 42, strictHostKeyChecking: 'yes', requestTimeout: -1 },
      { name: 'noendpoint' },
      { name: 'certonly', endpoint: 'https://x', certFile: '/c.pem' },
    ]);
    assert.deepEqual(
      profiles.map(p => p.name),
      ['ok'],
    );
    assert.deepEqual(
      errors(problems).map(p => [p.profile, p.field, p.message]),
      [
        [
          'socket',
          'endpoint',
          'profile "socket": endpoint unable to connect to host "var" with scheme "unix": a unix socket needs three slashes, e.g. unix:///var/run/fleet.sock',
        ],
        ['fleet.clusters[2]', 'name', 'fleet.clusters[2] has no "name"; give each cluster a unique name, e.g. "prod"'],
        ['fleet.clusters[3]', undefined, 'fleet.clusters[3] must be an object such as {"name": "prod", "endpoint": "http://10.0.0.1:49153"}'],
        ['ok', 'name', 'fleet.clusters[4]: the name "ok" is already used; give each cluster a unique name'],
        ['types', 'endpoint', 'profile "types": endpoint must be a string, not 42'],
        ['types', 'strictHostKeyChecking', 'profile "types": strictHostKeyChecking must be true or false, not "yes"'],
        ['types', 'requestTimeout', 'profile "types": requestTimeout must be a positive number (seconds), not -1'],
        [
          'noendpoint',
          'endpoint',
          'profile "noendpoint": endpoint is missing; write e.g. "http://10.0.0.1:49153" or "unix:///var/run/fleet.sock" (with a tunnel: the endpoint as seen from the tunnel host)',
        ],
        ['certonly', 'keyFile', 'profile "certonly": certFile and keyFile go together; set both (a client certificate and its key) or neither'],
      ],
    );
  });

  it('warns about unknown fields (typos) but keeps the profile', () => {
    const { profiles, problems } = resolve([{ name: 'p', endpoint: 'http://a:1', tunel: 'x' }]);
    assert.equal(profiles.length, 1);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'warning');
    assert.match(problems[0]!.message, /unknown field "tunel" is ignored; known fields are name, endpoint, tunnel/);
  });
});

describe('resolveProfiles: FLEETCTL_* environment', () => {
  it("gives fleetctl's default profile when nothing is configured", () => {
    const { profiles, problems } = resolve([]);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      profiles.map(p => [p.name, p.endpoint, p.source]),
      [[ENVIRONMENT_PROFILE_NAME, 'unix:///var/run/fleet.sock', 'environment']],
    );
  });

  it('adds no environment profile when settings exist and FLEETCTL_* is unset', () => {
    assert.deepEqual(
      resolve([{ name: 'a', endpoint: 'http://a:1' }]).profiles.map(p => p.name),
      ['a'],
    );
  });

  it('reads every FLEETCTL_* variable a connection uses (seconds as floats, Go booleans)', () => {
    const { profiles, problems } = resolve([{ name: 'a', endpoint: 'http://a:1' }], {
      FLEETCTL_ENDPOINT: 'http://10.1.1.1:49153',
      FLEETCTL_TUNNEL: '192.0.2.7:2222',
      FLEETCTL_SSH_USERNAME: 'admin',
      FLEETCTL_KNOWN_HOSTS_FILE: '~/.ssh/fleet_known',
      FLEETCTL_STRICT_HOST_KEY_CHECKING: 'false',
      FLEETCTL_REQUEST_TIMEOUT: '3.0',
      FLEETCTL_SSH_TIMEOUT: '0.5',
      FLEETCTL_CA_FILE: '/ca.pem',
      FLEETCTL_CERT_FILE: '/cert.pem',
      FLEETCTL_KEY_FILE: '/key.pem',
    });
    assert.deepEqual(
      problems.map(p => p.message),
      ['profile "FLEETCTL environment": caFile/certFile/keyFile are only used with an https:// endpoint, and the endpoint is http://10.1.1.1:49153'],
    );
    assert.deepEqual(profiles[1], {
      name: ENVIRONMENT_PROFILE_NAME,
      endpoint: 'http://10.1.1.1:49153',
      driver: 'api',
      etcdKeyPrefix: '/_coreos.com/fleet/',
      tunnel: '192.0.2.7:2222',
      tunnelTarget: { host: '192.0.2.7', port: 2222, user: 'admin' },
      sshUser: 'admin',
      knownHostsFile: '/home/dev/.ssh/fleet_known',
      strictHostKeyChecking: false,
      requestTimeoutMs: 3000,
      sshTimeoutMs: 500,
      caFile: '/ca.pem',
      certFile: '/cert.pem',
      keyFile: '/key.pem',
      source: 'environment',
    });
  });

  it('names the variable and keeps the default when a value is bad', () => {
    const { profiles, problems } = resolve([], {
      FLEETCTL_ENDPOINT: '127.0.0.1:49153',
      FLEETCTL_STRICT_HOST_KEY_CHECKING: 'maybe',
      FLEETCTL_SSH_TIMEOUT: 'ten',
      FLEETCTL_DRIVER: 'grpc',
    });
    assert.deepEqual(
      problems.map(p => [p.field, p.severity]),
      [
        ['FLEETCTL_ENDPOINT', 'error'],
        ['FLEETCTL_DRIVER', 'error'],
        ['FLEETCTL_STRICT_HOST_KEY_CHECKING', 'error'],
        ['FLEETCTL_SSH_TIMEOUT', 'error'],
      ],
    );
    assert.match(
      problems[0]!.message,
      /^FLEETCTL_ENDPOINT: "127.0.0.1:49153" has no scheme; write http:\/\/127.0.0.1:49153 .*using unix:\/\/\/var\/run\/fleet.sock instead$/,
    );
    assert.match(problems[2]!.message, /"maybe" is not a boolean \(write true or false\); host keys are checked/);
    const [env] = profiles;
    assert.equal(env!.endpoint, 'unix:///var/run/fleet.sock');
    assert.equal(env!.strictHostKeyChecking, true);
    assert.equal(env!.sshTimeoutMs, 10_000);
  });

  it("the etcd driver: FLEETCTL_DRIVER=etcd with the key prefix, as the article's FLEETCTL_ENDPOINT workflow", () => {
    const { profiles, problems } = resolve([], { FLEETCTL_ENDPOINT: 'http://10.0.0.5:4001', FLEETCTL_DRIVER: 'etcd', FLEETCTL_ETCD_KEY_PREFIX: '/myfleet' });
    assert.deepEqual(problems, []);
    assert.deepEqual([profiles[0]!.driver, profiles[0]!.endpoint, profiles[0]!.etcdKeyPrefix], ['etcd', 'http://10.0.0.5:4001', '/myfleet']);
    assert.equal(describeProfile(profiles[0]!), 'etcd http://10.0.0.5:4001');
  });

  it("an endpoint on etcd's ports selects the etcd driver unless a driver is given (fleetctl's own switch is dead code)", () => {
    const env = (e: Record<string, string>) => resolve([], e).profiles[0]!.driver;
    assert.equal(env({ FLEETCTL_ENDPOINT: 'http://10.0.0.5:4001' }), 'etcd');
    assert.equal(env({ FLEETCTL_ENDPOINT: 'https://etcd.example:2379' }), 'etcd');
    assert.equal(env({ FLEETCTL_ENDPOINT: 'http://10.0.0.5:2379', FLEETCTL_DRIVER: 'API' }), 'api');
    assert.equal(env({ FLEETCTL_ENDPOINT: 'http://10.0.0.5:49153' }), 'api');
    const settings = resolve(
      [
        { name: 'e', endpoint: 'http://10.0.0.5:12379', driver: 'etcd', etcdKeyPrefix: '/x/' },
        { name: 'p', endpoint: 'http://10.0.0.5:2379' },
      ],
      {},
    );
    assert.deepEqual(
      settings.profiles.map(p => [p.name, p.driver, p.etcdKeyPrefix]),
      [
        ['e', 'etcd', '/x/'],
        ['p', 'etcd', '/_coreos.com/fleet/'],
      ],
    );
  });

  it('the etcd driver refuses a unix socket, a relative prefix and an unknown driver, naming the fix', () => {
    const { profiles, problems } = resolve(
      [
        { name: 'u', endpoint: 'unix:///var/run/fleet.sock', driver: 'etcd' },
        { name: 'r', endpoint: 'http://10.0.0.5:2379', etcdKeyPrefix: 'fleet' },
        { name: 'd', endpoint: 'http://10.0.0.5:2379', driver: 'v2' },
        { name: 'w', endpoint: 'http://10.0.0.5:49153', etcdKeyPrefix: '/fleet/' },
      ],
      {},
    );
    assert.deepEqual(
      profiles.map(p => p.name),
      ['w'],
    );
    assert.deepEqual(
      problems.map(p => [p.profile, p.field, p.severity]),
      [
        ['u', 'endpoint', 'error'],
        ['r', 'etcdKeyPrefix', 'error'],
        ['d', 'driver', 'error'],
        ['w', 'etcdKeyPrefix', 'warning'],
      ],
    );
    assert.match(problems[0]!.message, /the etcd driver reaches etcd over http:\/\/ or https:\/\/.*for fleet's unix socket use the API driver/);
    assert.match(problems[2]!.message, /must be "api" .* or "etcd"/);
  });

  it('ignores empty variables, as fleetctl does', () => {
    const { profiles } = resolve([{ name: 'a', endpoint: 'http://a:1' }], { FLEETCTL_ENDPOINT: '', FLEETCTL_TUNNEL: '' });
    assert.deepEqual(
      profiles.map(p => p.name),
      ['a'],
    );
  });
});

describe('resolveProfiles: ~/.ssh/config aliases', () => {
  const sshConfig = [
    'Host fleet-*',
    '  User ops',
    '  Port 2200',
    'Host fleet-bastion',
    '  HostName 192.0.2.10',
    '  Port 2222',
    '  IdentityFile ~/.ssh/fleet_ed25519',
    '  IdentityFile ~/.ssh/id_rsa',
    'Host plain',
    '  HostName plain.example.com',
    'Host jumpy',
    '  ProxyJump bastion',
    '',
  ].join('\n');

  it('applies HostName, Port, User and IdentityFile (first match wins, as OpenSSH)', () => {
    const { profiles, problems } = resolve([{ name: 'p', endpoint: 'unix:///var/run/fleet.sock', tunnel: 'fleet-bastion' }], {}, sshConfig);
    assert.deepEqual(problems, []);
    assert.deepEqual(profiles[0]!.tunnelTarget, {
      host: '192.0.2.10',
      port: 2200,
      user: 'ops',
      alias: 'fleet-bastion',
      identityFile: '/home/dev/.ssh/fleet_ed25519',
    });
    assert.equal(profiles[0]!.tunnel, 'fleet-bastion:2200');
    assert.equal(profiles[0]!.sshUser, 'ops');
    assert.equal(profiles[0]!.identityFile, '/home/dev/.ssh/fleet_ed25519');
    assert.equal(describeProfile(profiles[0]!), 'ops@fleet-bastion:2200 → unix:///var/run/fleet.sock');
  });

  it("lets the profile's own values win over the ssh config", () => {
    const { profiles } = resolve(
      [{ name: 'p', endpoint: 'http://10.0.0.1:49153', tunnel: 'fleet-bastion:2022', sshUser: 'core', identityFile: '/k' }],
      {},
      sshConfig,
    );
    assert.deepEqual(profiles[0]!.tunnelTarget, { host: '192.0.2.10', port: 2022, user: 'core', alias: 'fleet-bastion', identityFile: '/k' });
  });

  it('warns that ProxyJump is not followed', () => {
    const { profiles, problems } = resolve([{ name: 'j', endpoint: 'http://x:1', tunnel: 'jumpy' }], {}, sshConfig);
    assert.equal(profiles.length, 1);
    assert.deepEqual(
      problems.map(p => [p.profile, p.field, p.severity]),
      [['j', 'tunnel', 'warning']],
    );
    assert.match(problems[0]!.message, /sets ProxyJump for jumpy, which the extension does not follow/);
  });

  it("falls back to fleetctl's defaults for hosts the config does not mention", () => {
    const { profiles } = resolve([{ name: 'p', endpoint: 'http://x:1', tunnel: 'plain' }], {}, sshConfig);
    assert.deepEqual(profiles[0]!.tunnelTarget, { host: 'plain.example.com', port: 22, user: 'core', alias: 'plain' });
    const other = resolve([{ name: 'p', endpoint: 'http://x:1', tunnel: 'elsewhere' }], {}, sshConfig).profiles[0]!;
    assert.deepEqual(other.tunnelTarget, { host: 'elsewhere', port: 22, user: 'core' });
    assert.equal(describeProfile(other), 'core@elsewhere:22 → http://x:1');
  });
});

describe('the fleet.clusters schema in package.json (Settings UI and settings.json completion)', () => {
  type Property = {
    type?: string;
    enum?: unknown[];
    examples?: unknown[];
    default?: unknown;
    markdownDescription?: string;
    description?: string;
    deprecationMessage?: string;
  };
  const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
    contributes: {
      configuration:
        | { properties: Record<string, { items?: { properties: Record<string, Property>; required?: string[]; additionalProperties?: boolean } }> }
        | Array<{ properties: Record<string, { items?: { properties: Record<string, Property>; required?: string[]; additionalProperties?: boolean } }> }>;
    };
  };
  const configs = manifest.contributes.configuration;
  const clusters = (Array.isArray(configs) ? configs : [configs]).map(c => c.properties['fleet.clusters']).find(Boolean)!;
  const items = clusters.items!;

  it('describes exactly the fields the profile parser accepts, each with a description, and no others', () => {
    assert.deepEqual(Object.keys(items.properties).sort(), [...PROFILE_FIELDS].sort());
    for (const [field, p] of Object.entries(items.properties)) {
      assert.ok((p.markdownDescription ?? p.description ?? '').length > 20, `${field} is described`);
      assert.ok(p.type === 'string' || p.type === 'number' || p.type === 'boolean', `${field} has a JSON type: ${p.type}`);
    }
    assert.deepEqual(items.required, ['name', 'endpoint']);
    assert.equal(items.additionalProperties, false, 'a misspelt field is flagged in settings.json');
    for (const field of [
      'sshUser',
      'identityFile',
      'knownHostsFile',
      'strictHostKeyChecking',
      'caFile',
      'certFile',
      'keyFile',
      'driver',
      'tunnel',
      'sshTimeout',
      'etcdKeyPrefix',
    ]) {
      assert.ok(items.properties[field], `the schema describes ${field}`);
    }
  });

  it('every value the schema offers (enum, examples, default) is one the parser accepts, and a value of another type is refused by name', () => {
    const sample: Record<string, unknown> = { string: '/home/dev/file', number: 5, boolean: false };
    for (const [field, p] of Object.entries(items.properties)) {
      const offered = [...(p.enum ?? []), ...(p.examples ?? []), ...(p.default !== undefined ? [p.default] : [])];
      for (const value of offered.length > 0 ? offered : [sample[p.type!]]) {
        const entry: Record<string, unknown> = { name: 'p', endpoint: 'http://10.0.0.1:49153', [field]: value };
        const { problems } = resolve([entry]);
        assert.deepEqual(
          errors(problems).filter(x => x.field === field),
          [],
          `${field}: ${JSON.stringify(value)} is accepted`,
        );
      }
      const { problems } = resolve([{ name: 'p', endpoint: 'http://10.0.0.1:49153', [field]: { wrong: true } }]);
      assert.ok(
        problems.some(x => x.field === field && x.severity === 'error'),
        `${field}: an object is refused, naming the field: ${JSON.stringify(problems)}`,
      );
    }
  });
});
