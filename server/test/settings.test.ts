import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DROP_IN_GLOB, dropInUnitOf, UNIT_FILE_EXTENSIONS } from '../../protocol/src/lsp';
import { FleetLanguageSettings } from '../../protocol/src/settings';

type Conf = { properties?: Record<string, { default?: unknown }> };
const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
  contributes: { languages: { id: string; extensions: string[]; filenamePatterns?: string[] }[]; configuration?: Conf | Conf[] };
};

describe('FleetLanguageSettings.from', () => {
  test('defaults for missing or malformed input', () => {
    const d = { systemdVersion: 252, diagnosticsEnabled: true, rules: {} };
    for (const raw of [undefined, null, 42, 'x', [], {}, { systemdVersion: 'new', diagnostics: 'on' }, { systemdVersion: -3 }, { systemdVersion: Infinity }]) {
      assert.deepEqual(FleetLanguageSettings.from(raw), d, JSON.stringify(raw));
    }
  });

  test('reads the version, enable flag and rule severities (unknown severities dropped, "info" accepted)', () => {
    assert.deepEqual(
      FleetLanguageSettings.from({ systemdVersion: 255.7, diagnostics: { enable: false, rules: { a: 'ERROR', b: 'off', c: 'info', d: 'loud', e: 3 } } }),
      { systemdVersion: 255, diagnosticsEnabled: false, rules: { a: 'error', b: 'off', c: 'information' } },
    );
  });
});

describe('manifest agreement', () => {
  test('UNIT_FILE_EXTENSIONS equals the fleet-unit language extensions in package.json', () => {
    const lang = manifest.contributes.languages.find(l => l.id === 'fleet-unit');
    assert.deepEqual([...UNIT_FILE_EXTENSIONS].sort(), [...(lang?.extensions ?? [])].sort());
  });

  test("drop-ins (every unit type's NAME.d/*.conf) are fleet-unit files, as DROP_IN_GLOB and dropInUnitOf say", () => {
    const lang = manifest.contributes.languages.find(l => l.id === 'fleet-unit');
    assert.deepEqual(
      lang?.filenamePatterns,
      UNIT_FILE_EXTENSIONS.map(e => `**/*${e}.d/*.conf`),
    );
    assert.equal(DROP_IN_GLOB, `**/*{${UNIT_FILE_EXTENSIONS.join(',')}}.d/*.conf`);
    assert.equal(dropInUnitOf('/etc/systemd/system/web@.service.d/10-env.conf'), 'web@.service');
    assert.equal(dropInUnitOf('C:\\units\\db.socket.d\\override.conf'), 'db.socket');
    assert.equal(dropInUnitOf('/x/foo.d/a.conf'), undefined);
    assert.equal(dropInUnitOf('/x/web.service.d/notes.txt'), undefined);
  });

  test('the declared settings defaults match FleetLanguageSettings.defaults', () => {
    const conf = manifest.contributes.configuration;
    const props = Object.assign({}, ...(Array.isArray(conf) ? conf : conf ? [conf] : []).map(c => c.properties ?? {})) as Record<string, { default?: unknown }>;
    assert.equal(props['fleet.systemdVersion']?.default, FleetLanguageSettings.defaults.systemdVersion);
    assert.equal(props['fleet.diagnostics.enable']?.default, FleetLanguageSettings.defaults.diagnosticsEnabled);
    assert.deepEqual(props['fleet.diagnostics.rules']?.default, {});
    assert.equal(props['fleet.trace.server']?.default, 'off');
  });
});
