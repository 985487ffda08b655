import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MarkupContent } from 'vscode-languageserver-types';
import { hover, type ServiceContext } from '../src/service';
import { context, cursor, indexed, unitDoc } from './fixture';

function hoverAt(fixture: string, ctx: ServiceContext = context(), name = 'web.service') {
  const { text, offset } = cursor(fixture);
  const h = hover(unitDoc(text, name), offset, ctx);
  if (!h) return undefined;
  return { value: (h.contents as MarkupContent).value, range: h.range };
}

const MAN = 'https://www.freedesktop.org/software/systemd/man/latest';
const FLEET = 'https://github.com/coreos/fleet/blob/master/Documentation/unit-files-and-scheduling.md#fleet-specific-options';

describe('hover', () => {
  test('a directive: kind, values, description, link; on its name and on its value', () => {
    const expected = [
      '**Restart=** in `[Service]` — one of a fixed set',
      '',
      'When the service is restarted automatically after it exits (no, on-failure, always, …).',
      '',
      'Values: `no`, `on-success`, `on-failure`, `on-abnormal`, `on-watchdog`, `on-abort`, `always`',
      '',
      `[systemd documentation](${MAN}/systemd.service.html#Restart=)`,
    ].join('\n');
    assert.deepEqual(hoverAt('[Service]\nRes$0tart=always\n'), {
      value: expected,
      range: { start: { line: 1, character: 0 }, end: { line: 1, character: 7 } },
    });
    assert.equal(hoverAt('[Service]\nRestart=alw$0ays\n')?.value, expected);
  });

  test('a section header', () => {
    assert.deepEqual(hoverAt('[Ser$0vice]\n'), {
      value: `**[Service]**\n\nHow the service runs: its type, commands, restarts and timeouts, plus execution, kill and resource settings.\n\n[systemd documentation](${MAN}/systemd.service.html)`,
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 9 } },
    });
    assert.equal(hoverAt('[Bogus$0]\n'), undefined);
  });

  test('[X-Fleet] keys with fleet semantics', () => {
    const h = hoverAt('[X-Fleet]\nConf$0licts=web*\n');
    assert.equal(
      h?.value,
      [
        '**Conflicts=** in `[X-Fleet]`',
        '',
        'Never share a machine with units matching these globs.',
        '',
        'Value: unit-name globs separated by spaces (* ? [a-z]).',
        '',
        'Checked in both directions: a unit is kept off machines running a match, and matches are kept off its machine. Globs follow Go path.Match; a malformed glob never matches. A unit never conflicts with itself.',
        '',
        '```',
        'Conflicts=web@*.service',
        '```',
        '',
        `[fleet documentation](${FLEET})`,
      ].join('\n'),
    );
    assert.match(
      hoverAt('[X-Fleet]\nX-Condition$0MachineOf=a.service\n')!.value,
      /^\*\*X-ConditionMachineOf=\*\* in `\[X-Fleet\]` — deprecated, use `MachineOf=`/,
    );
  });

  test('specifiers with their value for this file', () => {
    assert.deepEqual(hoverAt('[Service]\nExecStart=/bin/echo %$0i\n', context(), 'web@3.service'), {
      value: '**%i** — Instance name (the part after @, escaped).\n\nIn `web@3.service`: `3`',
      range: { start: { line: 1, character: 20 }, end: { line: 1, character: 22 } },
    });
    assert.equal(
      hoverAt('[Service]\nExecStart=/bin/echo %j$0\n', context(), 'app-web@3.service')?.value,
      '**%j** — Final component of the prefix (after the last -).\n\nIn `app-web@3.service`: `web`',
    );
    assert.equal(
      hoverAt('[X-Fleet]\nMachineOf=db@%$0i.service\n', context(), 'web@3.service')?.value,
      '**%i** — fleet substitutes the instance: the name between "@" and the suffix when scheduling.\n\nIn `web@3.service`: `3`',
    );
    assert.equal(
      hoverAt('[X-Fleet]\nMachineOf=db-%$0H.service\n')?.value,
      '**%H** — fleet does not substitute this specifier in [X-Fleet]; it stays as written.',
    );
    // `%%` is one specifier: the `i` after it is text.
    assert.match(hoverAt('[Service]\nExecStart=/bin/echo 100%%i$0x\n')!.value, /^\*\*ExecStart=\*\* in `\[Service\]`/);
    assert.match(hoverAt('[Service]\nExecStart=/bin/echo 100%$0%i\n')!.value, /^\*\*%%\*\* — A literal percent sign\./);
  });

  test('unit names: workspace file, template, glob matches', () => {
    const ctx = context({}, [indexed('db@.service', '[Unit]\n'), indexed('web-1.service', ''), indexed('web-2.service', ''), indexed('cache.service', '')]);
    assert.equal(
      hoverAt('[X-Fleet]\nMachineOf=d$0b@%i.service\n', ctx, 'web@1.service')?.value,
      '**db@1.service**\n\nAn instance of the template `db@.service`, defined in the workspace: file:///ws/db@.service',
    );
    assert.equal(
      hoverAt('[X-Fleet]\nConflicts=web-$0*\n', ctx)?.value,
      [
        '**web-*** — a unit-name glob (`*` any characters, `?` one character, `[a-z]` a class; Go path.Match).',
        '',
        'Matches: `web-1.service`, `web-2.service`',
      ].join('\n'),
    );
    assert.equal(hoverAt('[Unit]\nAfter=cac$0he.service\n', ctx)?.value, '**cache.service**\n\nDefined in the workspace: file:///ws/cache.service');
    assert.equal(hoverAt('[Unit]\nAfter=nope$0.service\n', ctx)?.value, '**nope.service**\n\nNot found in the workspace.');
  });

  test('MachineID against the cluster, and the placement on [X-Fleet]', () => {
    const cluster = {
      machines: [
        { id: '4d389537d9d14bdabe8be54a9c29f68d', primaryIP: '10.0.0.1', metadata: { region: 'us' } },
        { id: 'b'.repeat(32), metadata: { region: 'eu' } },
      ],
      units: [],
    };
    assert.equal(
      hoverAt('[X-Fleet]\nMachineID=4d38$09537\n', context({ cluster }))?.value,
      '**Machine in the connected cluster:**\n\n- 4d389537 (10.0.0.1) region=us',
    );
    assert.equal(
      hoverAt('[X-Fleet]\nMachineID=ffff$0ffff\n', context({ cluster }))?.value,
      'No machine of the connected cluster (2) has the ID `ffffffff` (full ID, or exactly its first 8 characters).',
    );
    assert.match(hoverAt('[X-$0Fleet]\nMachineMetadata=region=eu\n', context({ cluster }))!.value, /\*\*Placement:\*\* eligible on 1 of 2 machines: bbbbbbbb$/);
    assert.match(
      hoverAt('[X-$0Fleet]\nMachineMetadata=region=ap\n', context({ cluster }), 'web@.service')!.value,
      /\*\*Placement:\*\* fleet schedules the instances of a template, not the template\.$/,
    );
  });

  test('nothing on comments, blank lines or unknown directives', () => {
    assert.equal(hoverAt('[Service]\n# Rest$0art=always\n'), undefined);
    assert.equal(hoverAt('[Service]\n$0\n'), undefined);
    assert.equal(hoverAt('[Service]\nBog$0us=1\n'), undefined);
  });
});
