import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { documentLinks, manPageUrl } from '../src/service';
import { context, indexed, unitDoc } from './fixture';

const EXISTING = new Set(['/etc/web.env', '/srv/web', '/usr/bin/web']);
const resolvePath = (path: string) => (EXISTING.has(path) ? `file:///ws${path}` : undefined);

function links(text: string) {
  const ctx = context({ resolvePath }, [indexed('db.service', '[Unit]\n'), indexed('web@.service', '[Unit]\n')]);
  return documentLinks(unitDoc(text, 'app.service'), ctx).map(l => {
    const line = text.split('\n')[l.range.start.line]!;
    return `${l.range.start.line}:${line.slice(l.range.start.character, l.range.end.character)} → ${l.target}`;
  });
}

describe('document links', () => {
  test('man: references → man7.org', () => {
    assert.equal(manPageUrl('man:systemd.unit(5)'), 'https://man7.org/linux/man-pages/man5/systemd.unit.5.html');
    assert.equal(manPageUrl('man:nginx'), undefined);
  });

  test('Documentation= URLs and man pages, existing workspace paths, unit names to their files', () => {
    const text = [
      '[Unit]',
      'Documentation=https://nginx.org/en/docs/ man:nginx(8) info:nginx',
      'After=db.service web@1.service nope.service',
      '[Service]',
      'EnvironmentFile=-/etc/web.env',
      'EnvironmentFile=/etc/missing.env',
      'WorkingDirectory=/srv/web',
      'ExecStart=-/usr/bin/web --config /etc/web.env',
      'ExecStop=/usr/bin/missing',
      '',
    ].join('\n');
    assert.deepEqual(links(text), [
      '1:https://nginx.org/en/docs/ → https://nginx.org/en/docs/',
      '1:man:nginx(8) → https://man7.org/linux/man-pages/man8/nginx.8.html',
      '2:db.service → file:///ws/db.service',
      '2:web@1.service → file:///ws/web@.service',
      '4:/etc/web.env → file:///ws/etc/web.env',
      '6:/srv/web → file:///ws/srv/web',
      '7:/usr/bin/web → file:///ws/usr/bin/web',
    ]);
  });
});
