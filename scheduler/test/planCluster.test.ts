/**
 * planCluster as tables: snapshot → the exact action list and reasons (fleet-reference §5.5–§5.6,
 * §7.2 cases 39–52, plus metadata changes, machine loss, globals, Replaces, conflict globs in both
 * directions, the 8-character MachineID, and fleet's least-loaded tie-break). After applying each
 * plan, planning again must change nothing (the engine re-runs it every pass).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCluster } from '../src/planCluster';
import { applyActions, show, snapshot, type Fixture } from './fixtures';

interface Case extends Fixture {
  name: string;
  actions: string[];
  reasons?: Record<string, string>;
}

const least = (n: number) => `least-loaded machine that can run it (${n} unit${n === 1 ? '' : 's'})`;
const FULL_B = 'BBBBBBBBBBBB';

const CASES: Case[] = [
  // ---- §7.2 case 39–43: least-loaded ranking and what counts as load ----
  {
    name: '39 new unit goes to the less loaded machine',
    machines: { A: '', B: '' },
    units: { 'a.service': { on: 'A' }, 'x.service': { on: 'A' }, 'n.service': {} },
    actions: [`schedule n.service → B (${least(0)})`],
  },
  {
    name: '40 ties are broken by machine ID',
    machines: { ZZZ: '', AAA: '', MMM: '' },
    units: { 'n.service': {} },
    actions: [`schedule n.service → AAA (${least(0)})`],
  },
  {
    name: '40b the tie-break is byte order, as Go compares strings (upper case first)',
    machines: { b: '', a: '', B: '' },
    units: { 'n.service': {} },
    actions: [`schedule n.service → B (${least(0)})`],
  },
  {
    name: '41 an inactive unit is unscheduled and adds no load',
    machines: { A: '', B: '' },
    units: { 'a.service': { on: 'A', state: 'inactive' }, 'n.service': {} },
    actions: ['unschedule a.service ← A (desired state is inactive)', `schedule n.service → A (${least(0)})`],
  },
  {
    name: '42 a loaded unit counts toward load',
    machines: { A: '', B: '' },
    units: { 'a.service': { on: 'A', state: 'loaded' }, 'n.service': {} },
    actions: [`schedule n.service → B (${least(0)})`],
  },
  {
    name: '43 a global unit counts only where its metadata matches',
    machines: { A: 'r=x', B: 'r=y' },
    units: { 'g.service': { x: ['Global=true', 'MachineMetadata=r=x'] }, 'n.service': {} },
    actions: [`schedule n.service → B (${least(0)})`],
  },
  {
    name: '43b several new units spread by load in name order',
    machines: { A: '', B: '', C: '' },
    units: { 'a.service': {}, 'b.service': {}, 'c.service': {}, 'd.service': {}, 'e.service': { on: 'C' } },
    actions: [
      `schedule a.service → A (${least(0)})`,
      `schedule b.service → B (${least(0)})`,
      `schedule c.service → A (${least(1)})`,
      `schedule d.service → B (${least(1)})`,
    ],
  },
  // ---- 44 MachineID ----
  {
    name: '44 an 8-character MachineID prefix matches the full ID',
    machines: { AAAAAAAAAAAA: '', [FULL_B]: '' },
    units: { 'p.service': { x: ['MachineID=BBBBBBBB'] } },
    actions: [`schedule p.service → ${FULL_B} (pinned by MachineID BBBBBBBB)`],
  },
  {
    name: '44 a full MachineID matches',
    machines: { AAAAAAAAAAAA: '', [FULL_B]: '' },
    units: { 'p.service': { x: [`MachineID=${FULL_B}`] }, 'q.service': { x: [`X-ConditionMachineID=${FULL_B}`] } },
    actions: [`schedule p.service → ${FULL_B} (pinned by MachineID ${FULL_B})`, `schedule q.service → ${FULL_B} (pinned by MachineID ${FULL_B})`],
  },
  {
    name: '44 a 7-character prefix, an unknown ID and an empty MachineID never match',
    machines: { [FULL_B]: '' },
    units: {
      'p.service': { x: ['MachineID=BBBBBBB'] },
      'q.service': { x: ['MachineID=4d389537'] },
      'r.service': { x: ['MachineID='] },
    },
    actions: [],
    reasons: {
      'p.service': 'MachineID BBBBBBB is not in the cluster',
      'q.service': 'MachineID 4d389537 is not in the cluster',
      'r.service': 'MachineID is empty, so it matches no machine',
    },
  },
  {
    name: '44 a pinned unit whose machine lacks the metadata',
    machines: { A: 'r=1', B: 'r=2' },
    units: { 'p.service': { x: ['MachineID=A', 'MachineMetadata=r=2'] } },
    actions: [],
    reasons: { 'p.service': 'machine A does not have metadata r=2' },
  },
  {
    name: '44 a pinned unit stays on its machine whatever the load',
    machines: { A: '', B: '' },
    units: { 'a.service': { on: 'B' }, 'b.service': { on: 'B' }, 'p.service': { x: ['MachineID=B'] } },
    actions: ['schedule p.service → B (pinned by MachineID B)'],
  },
  // ---- 45 metadata ----
  {
    name: '45 values for one key are ORed',
    machines: { A: 'r=3', B: 'r=2' },
    units: { 'n.service': { x: ['MachineMetadata="r=1" "r=2"'] } },
    actions: [`schedule n.service → B (${least(0)})`],
  },
  {
    name: '45 different keys are ANDed',
    machines: { A: 'r=1', B: 'r=1,d=ssd' },
    units: { 'n.service': { x: ['MachineMetadata="r=1" "d=ssd"'] } },
    actions: [`schedule n.service → B (${least(0)})`],
  },
  {
    name: '45 nothing matches: the reason names the metadata',
    machines: { A: 'region=east', B: '' },
    units: {
      'n.service': { x: ['MachineMetadata=region=west'] },
      'm.service': { x: ['MachineMetadata="region=west" "region=north" "disk=ssd"'] },
    },
    actions: [],
    reasons: {
      'm.service': 'no machine has metadata region=west|north and disk=ssd',
      'n.service': 'no machine has metadata region=west',
    },
  },
  {
    name: '45 metadata with specifiers is substituted per unit',
    machines: { A: 'host=a', B: 'host=b' },
    units: { 'm@b.service': { x: ['MachineMetadata=host=%i'] } },
    actions: [`schedule m@b.service → B (${least(0)})`],
  },
  // ---- 46 MachineOf ----
  {
    name: '46 a follower goes to its peer even when another machine is less loaded',
    machines: { A: '', B: '' },
    units: { 'p.service': { on: 'B' }, 'q.service': { on: 'B' }, 'f.service': { x: ['MachineOf=p.service'] } },
    actions: ['schedule f.service → B (with its MachineOf peer p.service)'],
  },
  {
    name: '46 an inactive peer: the follower waits',
    machines: { A: '', B: '' },
    units: { 'p.service': { state: 'inactive' }, 'f.service': { x: ['MachineOf=p.service'] } },
    actions: [],
    reasons: { 'f.service': 'waiting for p.service (MachineOf), whose desired state is inactive' },
  },
  {
    name: '46 an unschedulable peer: the follower waits for it',
    machines: { A: '' },
    units: { 'p.service': { x: ['MachineID=nowhere1'] }, 'f.service': { x: ['MachineOf=p.service'] } },
    actions: [],
    reasons: {
      'f.service': 'waiting for p.service (MachineOf) to be scheduled',
      'p.service': 'MachineID nowhere1 is not in the cluster',
    },
  },
  {
    name: '46 an inactive peer with a stale target is unscheduled; the follower waits',
    machines: { A: '', B: '' },
    units: { 'p.service': { on: 'B', state: 'inactive' }, 'f.service': { x: ['MachineOf=p.service'] } },
    actions: ['unschedule p.service ← B (desired state is inactive)'],
    reasons: { 'f.service': 'waiting for p.service (MachineOf), whose desired state is inactive' },
  },
  {
    name: '46 a peer that was never submitted',
    machines: { A: '' },
    units: { 'f.service': { x: ['MachineOf=db.service'] } },
    actions: [],
    reasons: { 'f.service': 'waiting for db.service (MachineOf), which has not been submitted' },
  },
  {
    name: '46 a peer placed in the same pass is placed first, whatever the names',
    machines: { A: '', B: '' },
    units: { 'a.service': { x: ['MachineOf=z.service'] }, 'z.service': {}, 'b.service': { on: 'A' } },
    actions: [`schedule z.service → B (${least(0)})`, 'schedule a.service → B (with its MachineOf peer z.service)'],
  },
  {
    name: '46 a chain of peers is placed in one pass',
    machines: { A: '' },
    units: { 'a.service': { x: ['MachineOf=b.service'] }, 'b.service': { x: ['MachineOf=c.service'] }, 'c.service': {} },
    actions: [
      `schedule c.service → A (${least(0)})`,
      'schedule b.service → A (with its MachineOf peer c.service)',
      'schedule a.service → A (with its MachineOf peer b.service)',
    ],
  },
  {
    name: '46 peers on different machines',
    machines: { A: '', B: '' },
    units: { 'p1.service': { on: 'A' }, 'p2.service': { on: 'B' }, 'f.service': { x: ['MachineOf="p1.service" "p2.service"'] } },
    actions: [],
    reasons: { 'f.service': 'MachineOf peers p1.service (on A) and p2.service (on B) are on different machines' },
  },
  {
    name: '46 the peer is on a machine the follower cannot use',
    machines: { A: 'r=1', B: 'r=2' },
    units: { 'p.service': { on: 'A' }, 'f.service': { x: ['MachineOf=p.service', 'MachineMetadata=r=2'] } },
    actions: [],
    reasons: { 'f.service': 'MachineOf peer p.service is on machine A, which this unit cannot use: machine A does not have metadata r=2' },
  },
  {
    name: '46 a MachineOf cycle is named',
    machines: { A: '' },
    units: { 'a.service': { x: ['MachineOf=b.service'] }, 'b.service': { x: ['MachineOf=a.service'] } },
    actions: [],
    reasons: {
      'a.service': 'MachineOf cycle a.service → b.service → a.service: none of these units can be scheduled',
      'b.service': 'MachineOf cycle b.service → a.service → b.service: none of these units can be scheduled',
    },
  },
  {
    name: '46 a global unit eligible on the machine counts as a present peer',
    machines: { A: 'r=1', B: 'r=2' },
    units: { 'g.service': { x: ['Global=true', 'MachineMetadata=r=2'] }, 'f.service': { x: ['MachineOf=g.service'] } },
    actions: ['schedule f.service → B (with its MachineOf peer g.service)'],
  },
  // ---- 47 Conflicts ----
  {
    name: '47 a conflict glob keeps the new unit off the machine',
    machines: { A: '', B: '' },
    units: { 'web1.service': { on: 'A' }, 'other.service': { on: 'B' }, 'web2.service': { x: ['Conflicts=web*'] } },
    actions: [`schedule web2.service → B (${least(1)})`],
  },
  {
    name: '47 … and in the other direction (the placed unit carries the glob)',
    machines: { A: '', B: '' },
    units: { 'web1.service': { on: 'A', x: ['Conflicts=web*'] }, 'other.service': { on: 'B' }, 'web2.service': {} },
    actions: [`schedule web2.service → B (${least(1)})`],
  },
  {
    name: '47 every machine occupied by a conflicting unit',
    machines: { A: '', B: '' },
    units: { 'web1.service': { on: 'A' }, 'web2.service': { on: 'B' }, 'web3.service': { x: ['Conflicts=web?.service'] } },
    actions: [],
    reasons: { 'web3.service': 'conflicts with web1.service, web2.service on every machine' },
  },
  {
    name: '47 one conflicting unit, named once',
    machines: { A: '' },
    units: { 'web.1.service': { on: 'A' }, 'api.service': { x: ['Conflicts=web.*.service'] } },
    actions: [],
    reasons: { 'api.service': 'conflicts with web.1.service on every machine' },
  },
  {
    name: '47 conflicts on every eligible machine (metadata narrowed the choice)',
    machines: { A: 'r=1', B: 'r=2', C: 'r=1' },
    units: { 'web1.service': { on: 'A' }, 'web3.service': { on: 'C' }, 'web2.service': { x: ['Conflicts=web*', 'MachineMetadata=r=1'] } },
    actions: [],
    reasons: { 'web2.service': 'conflicts with web1.service, web3.service on every eligible machine' },
  },
  {
    name: '47 the one eligible machine is named',
    machines: { A: 'r=1', B: 'r=2' },
    units: { 'web1.service': { on: 'A' }, 'web2.service': { x: ['Conflicts=web*', 'MachineMetadata=r=1'] }, 'p.service': { x: ['MachineID=A'] } },
    actions: ['schedule p.service → A (pinned by MachineID A)'],
    reasons: { 'web2.service': 'conflicts with web1.service on machine A' },
  },
  {
    name: '47 a pinned unit whose machine runs a conflicting unit',
    machines: { A: '', B: '' },
    units: { 'web1.service': { on: 'A' }, 'web2.service': { x: ['MachineID=A', 'X-Conflicts=web1.service'] } },
    actions: [],
    reasons: { 'web2.service': 'conflicts with web1.service on machine A' },
  },
  {
    name: '47 a glob matching the unit itself is ignored',
    machines: { A: '' },
    units: { 'web1.service': { x: ['Conflicts=web*'] } },
    actions: [`schedule web1.service → A (${least(0)})`],
  },
  {
    name: '47 a global unit on every machine blocks a conflicting unit',
    machines: { A: '', B: '' },
    units: { 'g.service': { x: ['Global=true'] }, 'x.service': { x: ['Conflicts=g.service'] } },
    actions: [],
    reasons: { 'x.service': 'conflicts with g.service on every machine' },
  },
  {
    name: '47 several globs on one line, character classes and escapes',
    machines: { A: '', B: '', C: '' },
    units: {
      'db-1.service': { on: 'A' },
      'cache9.service': { on: 'B' },
      'n.service': { x: ['Conflicts=db-[0-9].service cache\\9.*'] },
    },
    actions: [`schedule n.service → C (${least(0)})`],
  },
  {
    name: '47 a malformed glob never matches',
    machines: { A: '' },
    units: { 'web1.service': { on: 'A' }, 'n.service': { x: ['Conflicts=web['] } },
    actions: [`schedule n.service → A (${least(1)})`],
  },
  {
    name: '47 a global unit that conflicts with a unit already there does not count there',
    machines: { A: '', B: '' },
    units: { 'db.service': { on: 'A' }, 'g.service': { x: ['Global=true', 'Conflicts=db.service'] }, 'n.service': {} },
    // A: db (1); B: g (1) → tie, A wins by ID.
    actions: [`schedule n.service → A (${least(1)})`],
  },
  // ---- 48 machine loss ----
  {
    name: '48 a unit on a dead machine is moved in the same pass',
    machines: { A: '' },
    units: { 'a.service': { on: 'GONE' } },
    actions: ['unschedule a.service ← GONE (machine GONE went away)', `schedule a.service → A (${least(0)})`],
  },
  {
    name: '48 a lost machine with a peer pair: both move together',
    machines: { A: '', B: '' },
    units: { 'p.service': { on: 'GONE' }, 'f.service': { on: 'GONE', x: ['MachineOf=p.service'] }, 'o.service': { on: 'A' } },
    actions: [
      'unschedule f.service ← GONE (machine GONE went away)',
      'unschedule p.service ← GONE (machine GONE went away)',
      `schedule p.service → B (${least(0)})`,
      'schedule f.service → B (with its MachineOf peer p.service)',
    ],
  },
  {
    name: '48 no machines left',
    machines: {},
    units: { 'a.service': { on: 'GONE' }, 'g.service': { x: ['Global=true'] } },
    actions: ['unschedule a.service ← GONE (machine GONE went away)'],
    reasons: { 'a.service': 'no machines in the cluster', 'g.service': 'no machines in the cluster' },
  },
  // ---- 49 conflicting co-located units ----
  {
    name: '49 two conflicting units on one machine: the first by name moves (fleet picks at random)',
    machines: { A: '', B: '' },
    units: { 'a.service': { on: 'A', x: ['Conflicts=b.service'] }, 'b.service': { on: 'A' } },
    actions: ['unschedule a.service ← A (conflicts with b.service on machine A)', `schedule a.service → B (${least(0)})`],
  },
  // ---- 50 metadata changes ----
  {
    name: '50 the machine loses the metadata: the unit moves',
    machines: { A: 'r=2', B: 'r=1' },
    units: { 'a.service': { on: 'A', x: ['MachineMetadata=r=1'] } },
    actions: ['unschedule a.service ← A (machine A does not have metadata r=1)', `schedule a.service → B (${least(0)})`],
  },
  {
    name: '50 the machine loses the metadata and nothing else qualifies',
    machines: { A: 'r=2' },
    units: { 'a.service': { on: 'A', x: ['MachineMetadata=r=1'] } },
    actions: ['unschedule a.service ← A (machine A does not have metadata r=1)'],
    reasons: { 'a.service': 'no machine has metadata r=1' },
  },
  {
    name: '50 a peer moves away: its follower follows in the same pass',
    machines: { A: 'r=2', B: 'r=1' },
    units: { 'p.service': { on: 'A', x: ['MachineMetadata=r=1'] }, 'f.service': { on: 'A', x: ['MachineOf=p.service'] } },
    actions: [
      'unschedule p.service ← A (machine A does not have metadata r=1)',
      'unschedule f.service ← A (MachineOf peer p.service is not on machine A)',
      `schedule p.service → B (${least(0)})`,
      'schedule f.service → B (with its MachineOf peer p.service)',
    ],
  },
  // ---- 51 Replaces ----
  {
    name: '51 a replacer goes to the least-loaded machine; nothing is replaced',
    machines: { A: '', B: '' },
    units: { 'old.service': { on: 'A' }, 'new.service': { x: ['Replaces=old.service'] } },
    actions: [`schedule new.service → B (${least(0)})`],
  },
  {
    name: '51 a replacer placed next to its target moves the target',
    machines: { A: '', B: '' },
    units: { 'old.service': { on: 'A' }, 'b1.service': { on: 'B' }, 'b2.service': { on: 'B' }, 'new.service': { x: ['Replaces=old.service'] } },
    actions: [
      'unschedule old.service ← A (replaced by new.service on machine A)',
      `schedule new.service → A (${least(1)}; replaces old.service)`,
      `schedule old.service → B (${least(2)})`,
    ],
  },
  {
    name: '51 both on one machine: the replaced unit moves, always (documented intent)',
    machines: { A: '', B: '' },
    units: { 'new.service': { on: 'A', x: ['Replaces=old.service'] }, 'old.service': { on: 'A' } },
    actions: ['unschedule old.service ← A (replaced by new.service on machine A)', `schedule old.service → B (${least(0)})`],
  },
  {
    name: '51 … also when the replaced unit sorts first',
    machines: { A: '', B: '' },
    units: { 'a-new.service': { on: 'A', x: ['Replaces=z-old.service'] }, 'z-old.service': { on: 'A' } },
    actions: ['unschedule z-old.service ← A (replaced by a-new.service on machine A)', `schedule z-old.service → B (${least(0)})`],
  },
  {
    name: '51 one machine only: the replaced unit waits (no flapping)',
    machines: { A: '' },
    units: { 'new.service': { on: 'A', x: ['Replaces=old.service'] }, 'old.service': { on: 'A' } },
    actions: ['unschedule old.service ← A (replaced by new.service on machine A)'],
    reasons: { 'old.service': 'replaced by new.service on every machine' },
  },
  {
    name: '51 mutual Replaces is ignored',
    machines: { A: '', B: '' },
    units: { 'a.service': { on: 'A', x: ['Replaces=b.service'] }, 'b.service': { on: 'A', x: ['Replaces=a.service'] } },
    actions: [],
  },
  {
    name: '51 Replaces globs',
    machines: { A: '', B: '' },
    units: { 'app-v2.service': { on: 'A', x: ['Replaces=app-v1*'] }, 'app-v1.service': { on: 'A' } },
    actions: ['unschedule app-v1.service ← A (replaced by app-v2.service on machine A)', `schedule app-v1.service → B (${least(0)})`],
  },
  {
    name: '51 Replaces is ignored for a unit the replacer needs through MachineOf (directly or not)',
    machines: { A: '', B: '' },
    units: {
      'db.service': { on: 'A' },
      'side.service': { on: 'A', x: ['MachineOf=db.service'] },
      'app.service': { on: 'A', x: ['MachineOf=side.service', 'Replaces=db*'] },
    },
    actions: [],
  },
  {
    name: '51 the replaced unit takes its MachineOf followers along',
    machines: { A: '', B: '' },
    units: {
      'new.service': { on: 'A', x: ['Replaces=old.service'] },
      'old.service': { on: 'A' },
      'side.service': { on: 'A', x: ['MachineOf=old.service'] },
    },
    actions: [
      'unschedule old.service ← A (replaced by new.service on machine A)',
      'unschedule side.service ← A (MachineOf peer old.service is not on machine A)',
      `schedule old.service → B (${least(0)})`,
      'schedule side.service → B (with its MachineOf peer old.service)',
    ],
  },
  {
    name: '51 a move frees a machine: units turned away earlier in the pass get a second sweep',
    machines: { A: '' },
    units: {
      'a.service': { x: ['Conflicts=old.service'] },
      'old.service': { on: 'A' },
      'z-new.service': { x: ['Replaces=old.service'] },
    },
    actions: [
      'unschedule old.service ← A (replaced by z-new.service on machine A)',
      `schedule z-new.service → A (${least(1)}; replaces old.service)`,
      `schedule a.service → A (${least(1)})`,
    ],
    reasons: { 'old.service': 'conflicts with a.service on every machine' },
  },
  {
    name: '51 a global held off by the replaced unit comes back, and keeps off a unit it conflicts with',
    machines: { A: '', B: '' },
    units: {
      'g.service': { x: ['Global=true', 'Conflicts=old.service'] },
      'old.service': { on: 'A' },
      'b1.service': { on: 'B' },
      'b2.service': { on: 'B' },
      'new.service': { x: ['Replaces=old.service'] },
      'x.service': { x: ['Conflicts=g.service'] },
    },
    // A: old (g held off) = 1; B: b1, b2, g = 3. new goes to A and moves old away; g now counts
    // on A too, so old (which g conflicts with) and x fit nowhere.
    actions: ['unschedule old.service ← A (replaced by new.service on machine A)', `schedule new.service → A (${least(1)}; replaces old.service)`],
    reasons: { 'old.service': 'conflicts with g.service on every machine', 'x.service': 'conflicts with g.service on every machine' },
  },
  // ---- 52 globals and templates ----
  {
    name: '52 global units are never scheduled; a stale target is cleared',
    machines: { A: '', B: '' },
    units: { 'g.service': { x: ['Global=true'] }, 'h.service': { x: ['Global=yes'], on: 'A' } },
    actions: ['unschedule h.service ← A (global units run on every eligible machine and are not scheduled to one)'],
  },
  {
    name: '52 a global unit that runs nowhere gets a reason',
    machines: { A: 'r=1' },
    units: { 'g.service': { x: ['Global=true', 'MachineMetadata=r=2'] }, 'h.service': { x: ['Global=true'], state: 'inactive' } },
    actions: [],
    reasons: { 'g.service': 'no machine has metadata r=2' },
  },
  {
    name: '52 an inactive global unit is no load, no peer and no conflict (fleet counts it)',
    machines: { A: '', B: '' },
    units: {
      'g.service': { x: ['Global=true'], state: 'inactive' },
      'b.service': { on: 'B' },
      'f.service': { x: ['MachineOf=g.service'] },
      'x.service': { x: ['Conflicts=g.service'] },
    },
    actions: [`schedule x.service → A (${least(0)})`],
    reasons: { 'f.service': 'waiting for g.service (MachineOf), whose desired state is inactive' },
  },
  {
    name: '52 a launched template is scheduled (fleet does; the API should refuse it)',
    machines: { A: '' },
    units: { 't@.service': {} },
    actions: [`schedule t@.service → A (${least(0)})`],
  },
  // ---- steady state ----
  {
    name: 'a settled cluster needs nothing',
    machines: { A: 'r=1', B: 'r=2' },
    units: {
      'a.service': { on: 'A', x: ['MachineMetadata=r=1'] },
      'b.service': { on: 'A', x: ['MachineOf=a.service'] },
      'c.service': { on: 'B', x: ['Conflicts=a.service'] },
      'd.service': { state: 'inactive' },
      'g.service': { x: ['Global=true'] },
    },
    actions: [],
  },
];

for (const c of CASES) {
  test(c.name, () => {
    const snap = snapshot(c);
    const plan = planCluster(snap);
    assert.deepEqual(show(plan.actions), c.actions);
    assert.deepEqual(Object.fromEntries(plan.reasons), c.reasons ?? {});
    // Re-planning the applied result is a no-op (idempotent, no flapping).
    const again = planCluster(applyActions(snap, plan.actions));
    assert.deepEqual(show(again.actions), []);
    assert.deepEqual(Object.fromEntries(again.reasons), c.reasons ?? {});
  });
}

test('the input order does not change the plan', () => {
  const fixture: Fixture = {
    machines: { C: '', A: 'r=1', B: 'r=1' },
    units: {
      'w1.service': { x: ['Conflicts=w*'] },
      'w2.service': { x: ['Conflicts=w*'] },
      'w3.service': { x: ['Conflicts=w*'] },
      'p.service': { on: 'B' },
      'f.service': { x: ['MachineOf=p.service'] },
      'm.service': { x: ['MachineMetadata=r=1'] },
      'old.service': { on: 'GONE' },
    },
  };
  const snap = snapshot(fixture);
  const expected = planCluster(snap);
  const reversed = { machines: [...snap.machines].reverse(), units: [...snap.units].reverse() };
  const plan = planCluster(reversed);
  assert.deepEqual(plan.actions, expected.actions);
  assert.deepEqual([...plan.reasons], [...expected.reasons]);
  assert.deepEqual(show(expected.actions), [
    'unschedule old.service ← GONE (machine GONE went away)',
    'schedule f.service → B (with its MachineOf peer p.service)',
    `schedule m.service → A (${least(0)})`,
    `schedule old.service → C (${least(0)})`,
    `schedule w1.service → A (${least(1)})`,
    `schedule w2.service → C (${least(1)})`,
    `schedule w3.service → B (${least(2)})`,
  ]);
});

test('planCluster does not mutate its input', () => {
  const snap = snapshot({ machines: { A: '' }, units: { 'a.service': { on: 'GONE' }, 'b.service': {} } });
  const before = JSON.stringify(snap, (_k, v) => (v instanceof Map ? [...v] : v));
  planCluster(snap);
  assert.equal(
    JSON.stringify(snap, (_k, v) => (v instanceof Map ? [...v] : v)),
    before,
  );
});

test('a ring of Replaces settles instead of chasing round the cluster', () => {
  const snap = snapshot({
    machines: { A: '', B: '' },
    units: {
      'x.service': { x: ['Replaces=y.service'] },
      'y.service': { x: ['Replaces=z.service'] },
      'z.service': { x: ['Replaces=x.service'] },
    },
  });
  const plan = planCluster(snap);
  assert.deepEqual(show(plan.actions), [`schedule x.service → A (${least(0)})`, `schedule y.service → B (${least(0)})`]);
  assert.deepEqual(Object.fromEntries(plan.reasons), {
    'z.service': 'every machine it can use runs a unit it replaces that itself replaces others (x.service), so it is not moved',
  });
  const next = planCluster(applyActions(snap, plan.actions));
  assert.deepEqual(show(next.actions), []);
});

test('an unreachable machine (within the engine grace period) keeps its units but takes no new ones', () => {
  const base = snapshot({
    machines: { A: '', B: 'r=1' },
    units: {
      'a.service': { on: 'A' },
      'p.service': { on: 'A' },
      // Would go to A (least loaded, or pinned, or with its peer) if A were reachable.
      'n.service': {},
      'pin.service': { x: ['MachineID=A'] },
      'f.service': { x: ['MachineOf=p.service'] },
      'b1.service': { on: 'B' },
      'b2.service': { on: 'B' },
      'b3.service': { on: 'B' },
    },
  });
  const snap = { ...base, machines: base.machines.map(m => (m.id === 'A' ? { ...m, unreachable: true } : m)) };
  const plan = planCluster(snap);
  assert.deepEqual(show(plan.actions), [`schedule n.service → B (${least(3)})`]);
  assert.deepEqual([...plan.reasons.keys()], ['f.service', 'pin.service']);
  // Reachable again: the same snapshot places everything on A.
  assert.deepEqual(show(planCluster(base).actions), [
    'schedule f.service → A (with its MachineOf peer p.service)',
    `schedule n.service → A (${least(3)})`,
    'schedule pin.service → A (pinned by MachineID A)',
  ]);
});
