/**
 * systemd's time spans, one parser for the editor and the agent, checked against systemd.time(7)'s
 * own examples and parse_time()'s edges.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTimespan, isTimespan, parseTimespan } from '../src/systemd/timespan';
import { parseTimespan as agentParse } from '../../fleetd/src/agent/timespan';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;

test("systemd.time(7)'s examples", () => {
  const table: [string, number][] = [
    ['2 h', 2 * H],
    ['2hours', 2 * H],
    ['48hr', 48 * H],
    ['1y 12month', 31_557_600_000 + 12 * 2_629_800_000],
    ['55s500ms', 55.5 * S],
    ['300ms20s 5day', 300 + 20 * S + 5 * D],
  ];
  for (const [text, ms] of table) assert.equal(parseTimespan(text), ms, text);
});

test("parse_time's edges: bare seconds, fractions, a trailing dot, spaces, m vs M, infinity", () => {
  const table: [string, number | undefined][] = [
    ['90', 90 * S],
    ['1.5s', 1500],
    ['.5min', 30 * S],
    ['5.', 5 * S],
    ['  10 s  ', 10 * S],
    ['1m', MIN],
    ['1M', 2_629_800_000],
    ['1min 30s', 90 * S],
    ['infinity', Infinity],
    ['0', 0],
    ['', undefined],
    ['.', undefined],
    ['5 parsecs', undefined],
    ['-5s', undefined],
    ['10ns', undefined],
    ['s', undefined],
  ];
  for (const [text, ms] of table) assert.equal(parseTimespan(text), ms, JSON.stringify(text));
  assert.ok(Math.abs(parseTimespan('10ns', { nsec: true })! - 10e-6) < 1e-12);
  assert.ok(Math.abs(parseTimespan('10', { nsec: true })! - 10e-6) < 1e-12, 'a bare number of a …NSec setting is nanoseconds');
  assert.equal(isTimespan('5.'), true);
});

test('the agent parses exactly what the editor accepts (one parser)', () => {
  for (const text of ['5.', '55s500ms', '2 h', 'infinity', 'soon', '.', '1y 12month']) {
    assert.equal(agentParse(text), parseTimespan(text), text);
    assert.equal(agentParse(text) !== undefined, isTimespan(text), text);
  }
});

test("format_timespan's style", () => {
  assert.equal(formatTimespan(90 * S), '1min 30s');
  assert.equal(formatTimespan(500), '500ms');
  assert.equal(formatTimespan(2 * H + 5 * S), '2h 5s');
  assert.equal(formatTimespan(Infinity), 'infinity');
});
