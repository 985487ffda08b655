import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseUnitFile, toOptions, unitHash } from '../../unitfile/src';
import { formattingEdits } from '../src/service';
import { applyEdits, cursor, unitDoc } from './fixture';

const format = (text: string) => {
  const doc = unitDoc(text);
  return applyEdits(doc, formattingEdits(doc));
};

describe('formatting', () => {
  test('Key = Value → Key=Value, indentation and trailing whitespace removed', () => {
    assert.equal(
      format('  [Unit]  \n  Description =  Web server \t\n\n[Service]\nRestart\t=\talways\n   \n'),
      '[Unit]\nDescription=Web server\n\n[Service]\nRestart=always\n\n',
    );
  });

  test('continuation content is never touched', () => {
    const text = 'ExecStart = /bin/sh -c \\\n    "echo  a"   \\\n  done  \n'.replace(/^/, '[Service]\n');
    assert.equal(format(text), '[Service]\nExecStart=/bin/sh -c \\\n    "echo  a"   \\\n  done  \n');
  });

  test('whitespace is kept where removing it would start a continuation', () => {
    // "a \ " does not continue (the line ends in a space); stripping it would make it continue.
    assert.equal(format('[Service]\nExecStart=/bin/a \\ \nRestart=no\n'), '[Service]\nExecStart=/bin/a \\ \nRestart=no\n');
    // A comment ending in "\ " + one more space: fleet trims one space only, so stripping both would swallow the next line.
    assert.equal(format('[Unit]\n# note \\  \nDescription=x\n'), '[Unit]\n# note \\  \nDescription=x\n');
  });

  test('headers without a closing bracket keep their whitespace (it is part of the name)', () => {
    // Found by the fuzzer: fleet reads a header up to the next `]`, across lines ...
    assert.equal(format('[Unit\n  indented = value  \n[Service]\n'), '[Unit\n  indented = value  \n[Service]\n');
    // ... or to the end of the line when there is none.
    assert.equal(format('[X-Fleet]\n[Unit \nDescription = x\n'), '[X-Fleet]\n[Unit \nDescription=x\n');
  });

  test('swallowed comment lines are left alone', () => {
    assert.equal(format('[Unit]\n# note \\\n  Description = x  \nAfter = a\n'), '[Unit]\n# note \\\n  Description = x  \nAfter=a\n');
  });

  test('CRLF line ends are kept', () => {
    assert.equal(format('[Unit]  \r\nDescription = x \r\n'), '[Unit]\r\nDescription=x\r\n');
  });

  test('never changes what fleet sees: same options, same hash', () => {
    const samples = [
      '  [Unit]  \n  Description =  Web server \t\n[Service]\nExecStart = /bin/sh -c \\\n  "x"  \nRestart\t=\talways\n[X-Fleet]\nMachineOf = "a.service" "b.service"   \n',
      '[Unit]\nDescription=\n\n[Service]\nExecStart = -/bin/true  # not a comment  \n',
    ];
    for (const text of samples) {
      const before = toOptions(parseUnitFile(text));
      const after = toOptions(parseUnitFile(format(text)));
      assert.deepEqual(after, before);
      assert.equal(unitHash(after), unitHash(before));
      assert.equal(format(format(text)), format(text), 'idempotent');
    }
  });

  test('range formatting edits only inside the range', () => {
    const { text, offset, end } = cursor('[Unit]\nDescription = a \n$0After = b \n$0Before = c \n');
    const doc = unitDoc(text);
    assert.equal(applyEdits(doc, formattingEdits(doc, { start: offset, end })), '[Unit]\nDescription = a \nAfter=b\nBefore = c \n');
  });

  test('a well-formatted file gives no edits', () => {
    assert.deepEqual(formattingEdits(unitDoc('[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/true\n')), []);
  });
});
