import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiagnosticSeverity, DiagnosticTag } from 'vscode-languageserver-types';
import { FleetLanguageSettings } from '../../protocol/src/settings';
import { diagnostics, validateForSubmit } from '../src/service';
import { context, unitDoc } from './fixture';

const FLEET_DOC = 'https://github.com/coreos/fleet/blob/master/Documentation/unit-files-and-scheduling.md';

const BAD = [
  '[Service]', //                                        0
  'ExecStart=/bin/true', //                              1
  '[X-Fleet]', //                                        2
  'MachineMetaData=region=us', //                        3
  'MachineID=4d389537d9d14bdabe8be54a9c29f68d', //       4
  'MachineOf=db.service', //                             5
  '',
].join('\n');

const r = (line: number, c0: number, line1: number, c1: number) => ({ start: { line, character: c0 }, end: { line: line1, character: c1 } });

describe('diagnostics', () => {
  test('rule problems become fleet diagnostics with code, range, severity and a link', () => {
    assert.deepEqual(diagnostics(unitDoc(BAD), context()), [
      {
        range: r(3, 0, 3, 15),
        severity: DiagnosticSeverity.Warning,
        code: 'xfleet-unknown-key',
        codeDescription: { href: `${FLEET_DOC}#fleet-specific-options` },
        source: 'fleet',
        message: 'unrecognized requirement in [X-Fleet] section: "MachineMetaData"; did you mean MachineMetadata?',
      },
      {
        range: r(4, 0, 4, 42),
        severity: DiagnosticSeverity.Error,
        code: 'fleet-options',
        codeDescription: { href: FLEET_DOC },
        source: 'fleet',
        message: "MachineID cannot be used with Peers\nPeers is fleet's internal name for MachineOf=: remove one of the two keys.",
      },
      {
        range: r(5, 0, 5, 20),
        severity: DiagnosticSeverity.Error,
        code: 'fleet-options',
        codeDescription: { href: FLEET_DOC },
        source: 'fleet',
        message: "MachineID cannot be used with Peers\nPeers is fleet's internal name for MachineOf=: remove one of the two keys.",
      },
    ]);
  });

  test("fleet's cryptic texts keep their exact wording and get a plain hint; an empty new file gets no diagnostic", () => {
    const eof = diagnostics(unitDoc('[Service]\nExecStart=/bin/true\nDescr'), context());
    assert.equal(eof[0]!.message, 'EOF\nfleet reached the end of the file in the middle of an option: the last line has no "=". Finish it as Name=value.');
    const garbage = diagnostics(unitDoc('[Service]]\nExecStart=/bin/true\n'), context());
    assert.equal(
      garbage.find(d => d.code === 'fleet-parse')!.message,
      'found garbage after section name : [93]\nafter the section\'s closing "]" comes "]"; a section header is only [Name] on its line: remove "]".',
    );
    assert.deepEqual(diagnostics(unitDoc(''), context()), []);
    assert.deepEqual(diagnostics(unitDoc('\n  \n'), context()), []);
    assert.ok(diagnostics(unitDoc('[Service]\n'), context()).length > 0, 'once it has content, it is checked');
  });

  test('per-rule overrides change severities and "off" removes a rule', () => {
    const settings = FleetLanguageSettings.from({ diagnostics: { rules: { 'xfleet-unknown-key': 'error', 'fleet-options': 'off' } } });
    const got = diagnostics(unitDoc(BAD), context({ settings }));
    assert.deepEqual(
      got.map(d => [d.code, d.severity]),
      [['xfleet-unknown-key', DiagnosticSeverity.Error]],
    );
  });

  test('fleet.diagnostics.enable=false publishes nothing', () => {
    const settings = FleetLanguageSettings.from({ diagnostics: { enable: false } });
    assert.deepEqual(diagnostics(unitDoc(BAD), context({ settings })), []);
  });

  test('parser errors come first-class, with the exact range', () => {
    const got = diagnostics(unitDoc('[Service]\nExecStart=/bin/true\n[Unit\nDescription=x\n'), context());
    assert.deepEqual(
      got.filter(d => d.code === 'fleet-parse').map(d => [d.message, d.range, d.severity]),
      [['unable to find end of section\na section header needs its closing "]" on the same line, e.g. [Service].', r(2, 0, 2, 5), DiagnosticSeverity.Error]],
    );
  });

  test('deprecated keys carry the Deprecated tag', () => {
    const got = diagnostics(unitDoc('[Service]\nExecStart=/bin/true\n[X-Fleet]\nX-ConditionMachineOf=db.service\n'), context());
    const d = got.find(x => x.code === 'xfleet-deprecated-key');
    assert.ok(d, JSON.stringify(got));
    assert.deepEqual(d.tags, [DiagnosticTag.Deprecated]);
  });

  test('suppression comments are honoured', () => {
    const text = BAD.replace('MachineMetaData', '# fleet-disable-next-line xfleet-unknown-key\nMachineMetaData');
    assert.deepEqual(
      diagnostics(unitDoc(text), context()).map(d => d.code),
      ['fleet-options', 'fleet-options'],
    );
  });

  test('a bad file name is reported against the first header', () => {
    const got = diagnostics(unitDoc('[Unit]\nDescription=x\n', 'web@.device'), context());
    assert.deepEqual(
      got.map(d => [d.code, d.message, d.range]),
      [['fleet-unit-name', 'invalid unit type for template: "device" (file name "web@.device")', r(0, 0, 0, 6)]],
    );
  });
});

describe('validateForSubmit', () => {
  test('errors block, and overrides apply', () => {
    const res = validateForSubmit(unitDoc(BAD), context());
    assert.equal(res.name, 'web.service');
    assert.equal(res.blocking, true);
    assert.deepEqual(
      res.problems.map(p => [p.code, p.severity, p.enforcedBy]),
      [
        ['xfleet-unknown-key', 'warning', 'fleetctl'],
        ['fleet-options', 'error', 'fleet'],
        ['fleet-options', 'error', 'fleet'],
      ],
    );
    const relaxed = validateForSubmit(
      unitDoc(BAD),
      context({ settings: FleetLanguageSettings.from({ diagnostics: { rules: { 'fleet-options': 'warning' } } }) }),
    );
    assert.equal(relaxed.blocking, false);
  });

  test('a clean unit does not block', () => {
    const res = validateForSubmit(unitDoc('[Unit]\nDescription=ok\n[Service]\nExecStart=/bin/true\n'), context());
    assert.deepEqual(res, { name: 'web.service', problems: [], blocking: false });
  });

  test('placement advice does not block a submit', () => {
    const cluster = { machines: [{ id: 'a'.repeat(32), metadata: { region: 'eu' } }], units: [] };
    const res = validateForSubmit(unitDoc('[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=us\n'), context({ cluster }));
    assert.deepEqual(res.problems, []);
  });
});
