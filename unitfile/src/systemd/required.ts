/**
 * missing-required: the checks systemd makes before it agrees to load a unit (service_verify,
 * timer_verify, socket_verify, path_verify, mount_verify, automount_verify), on the settings in effect.
 */
import type { UnitOptionNode } from '../parse';
import type { Rule } from '../rules';
import { UNIT_TYPES, lookupDirective } from './catalog';
import { unitTypeOf } from '../unitName';
import { analyze, lineRange, unitType, type Entry } from './analysis';

/**
 * The options of a section that are in effect, per name: an empty assignment resets lists, and
 * an unparsable one is skipped (systemd ignores it, so a bad ExecStart= can leave none).
 */
function effective(entries: Entry[], section: string): Map<string, UnitOptionNode[]> {
  const out = new Map<string, UnitOptionNode[]>();
  for (const e of entries) {
    if (e.o.section !== section) continue;
    if (e.problem && e.problem.since === undefined) continue; // systemd ignores an assignment it cannot parse
    if (e.o.value.trim() === '') out.set(e.o.name, []);
    else if (e.directive?.multiple) {
      const list = out.get(e.o.name);
      if (list) list.push(e.o);
      else out.set(e.o.name, [e.o]);
    } else out.set(e.o.name, [e.o]);
  }
  return out;
}

/** systemd's unit_name_from_path: the unit name stem a mount point must have (/mnt/my-data → mnt-my\\x2ddata). */
export function escapePath(path: string): string {
  const parts = path.split('/').filter(p => p !== '' && p !== '.');
  if (parts.length === 0) return '-';
  const joined = parts.join('/');
  let out = '';
  for (const ch of joined) {
    if (ch === '/') out += '-';
    else if (/^[A-Za-z0-9:_.]$/.test(ch) && !(out === '' && ch === '.')) out += ch;
    else {
      // UTF-8 bytes, each as \xNN (encodeURIComponent gives them as %NN).
      const bytes =
        ch.charCodeAt(0) < 128
          ? [ch.charCodeAt(0)]
          : encodeURIComponent(ch)
              .split('%')
              .filter(Boolean)
              .map(h => parseInt(h, 16));
      for (const b of bytes) out += `\\x${b.toString(16).padStart(2, '0')}`;
    }
  }
  return out;
}

const TIMER_TRIGGERS = ['OnActiveSec', 'OnBootSec', 'OnStartupSec', 'OnUnitActiveSec', 'OnUnitInactiveSec', 'OnCalendar', 'OnClockChange', 'OnTimezoneChange'];
const SOCKET_LISTENERS = [
  'ListenStream',
  'ListenDatagram',
  'ListenSequentialPacket',
  'ListenFIFO',
  'ListenSpecial',
  'ListenNetlink',
  'ListenMessageQueue',
  'ListenUSBFunction',
];
const PATH_SPECS = ['PathExists', 'PathExistsGlob', 'PathChanged', 'PathModified', 'DirectoryNotEmpty'];

export const missingRequired: Rule = {
  code: 'missing-required',
  severity: 'error',
  enforcedBy: 'systemd',
  summary:
    'A unit systemd refuses to load: a service without a usable ExecStart=, a timer without a trigger, a socket without Listen…=, a path unit without a path, a mount without What= or named unlike its Where=.',
  check(ctx, report) {
    const { entries } = analyze(ctx);
    const file = ctx.file;
    // A named file without a unit suffix (a drop-in .conf, a .in template, a deis .decorator) may be a fragment.
    if (ctx.unitName !== undefined && !(UNIT_TYPES as readonly string[]).includes(unitTypeOf(ctx.unitName) ?? '')) return;
    const typed = ctx.unitName !== undefined;
    const anchorOf = (section: string) => {
      const s = file.sections.find(x => x.name === section) ?? file.sections[0];
      return s ? { start: s.start, end: s.headerEnd } : { start: 0, end: 0 };
    };
    const has = (section: string) => file.sections.some(s => s.name === section);
    const last = (m: Map<string, UnitOptionNode[]>, name: string) => m.get(name)?.at(-1)?.value.trim();
    const anyOf = (m: Map<string, UnitOptionNode[]>, names: string[]) => names.some(n => (m.get(n)?.length ?? 0) > 0);
    const refuse = (range: { start: number; end: number }, message: string) => report({ ...range, message: `${message}; systemd refuses to load the unit` });

    if (unitType(ctx) === 'service' && (has('Service') || typed)) {
      const svc = effective(entries, 'Service');
      const unit = effective(entries, 'Unit');
      const starts = svc.get('ExecStart') ?? [];
      const explicitType = last(svc, 'Type');
      if (explicitType !== undefined && explicitType.includes('%')) return;
      const typeValues = lookupDirective('Service', 'Type')?.values ?? [];
      const type =
        (explicitType && typeValues.includes(explicitType) ? explicitType : undefined) ??
        (last(svc, 'BusName') ? 'dbus' : starts.length ? 'simple' : 'oneshot');
      const successAction = last(unit, 'SuccessAction');
      const hasSuccessAction = successAction !== undefined && successAction !== 'none';
      const remain = last(svc, 'RemainAfterExit');
      const anchor = anchorOf('Service');
      if (starts.length === 0 && (svc.get('ExecStop')?.length ?? 0) === 0 && !hasSuccessAction) {
        refuse(anchor, 'Service has no ExecStart=, ExecStop=, or SuccessAction=');
      } else if (type !== 'oneshot' && starts.length === 0) {
        refuse(anchor, `Service has no ExecStart=, which only Type=oneshot services may omit (Type=${type})`);
      } else if (starts.length === 0 && !hasSuccessAction && !(remain !== undefined && /^(1|yes|y|true|t|on)$/i.test(remain))) {
        refuse(anchor, 'Service has no ExecStart= and no SuccessAction=, and does not set RemainAfterExit=yes');
      }
      if (type !== 'oneshot' && starts.length > 1) {
        for (const o of starts.slice(1)) {
          report({
            ...lineRange(o),
            message: `More than one ExecStart= is only allowed for Type=oneshot services (this one is Type=${type}); systemd refuses to load the unit`,
          });
        }
      }
      const restart = svc.get('Restart')?.at(-1);
      if (type === 'oneshot' && restart && ['always', 'on-success'].includes(restart.value.trim())) {
        refuse(lineRange(restart), `Restart=${restart.value.trim()} is not allowed for Type=oneshot services`);
      }
      const typeLine = svc.get('Type')?.at(-1);
      if (type === 'dbus' && !last(svc, 'BusName') && typeLine) refuse(lineRange(typeLine), 'Type=dbus needs BusName=');
    }
    if (unitType(ctx) === 'timer' && (has('Timer') || typed)) {
      if (!anyOf(effective(entries, 'Timer'), TIMER_TRIGGERS)) refuse(anchorOf('Timer'), 'Timer has no trigger (OnCalendar=, OnBootSec=, OnUnitActiveSec=, …)');
    }
    if (unitType(ctx) === 'socket' && (has('Socket') || typed)) {
      if (!anyOf(effective(entries, 'Socket'), SOCKET_LISTENERS))
        refuse(anchorOf('Socket'), 'Socket has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, …)');
    }
    if (unitType(ctx) === 'path' && (has('Path') || typed)) {
      if (!anyOf(effective(entries, 'Path'), PATH_SPECS))
        refuse(anchorOf('Path'), 'Path unit has no path to watch (PathExists=, PathChanged=, PathModified=, …)');
    }
    if (unitType(ctx) === 'mount' && has('Mount')) {
      if (!anyOf(effective(entries, 'Mount'), ['What'])) refuse(anchorOf('Mount'), 'Mount has no What= setting');
    }
    for (const section of ['Mount', 'Automount']) {
      if (unitType(ctx) !== section.toLowerCase() || ctx.unitName === undefined) continue;
      const where = effective(entries, section).get('Where')?.at(-1);
      const path = where?.value.trim();
      if (!where || !path || !path.startsWith('/') || path.includes('%')) continue;
      const expected = `${escapePath(path)}.${section.toLowerCase()}`;
      if (expected !== ctx.unitName) refuse(lineRange(where), `Where=${path} does not match the unit name: this unit must be named ${expected}`);
    }
  },
};
