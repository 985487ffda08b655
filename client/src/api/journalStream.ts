/**
 * fleetd's journal lines (its journal extension of the v1 API): one JSON object per line, read
 * from a whole answer or followed on a stream. No `vscode` import here.
 */
import type http from 'node:http';
import type { JournalLine } from '../../../protocol/src/api';
import { FleetApiError } from './types';

const MAX_JOURNAL_LINE = 1024 * 1024;

/** A whole journal answer: a JSON array, `{"lines": [...]}`, or one JSON object per line. */
export function parseJournalBody(text: string, parseJson: <T>() => T): JournalLine[] {
  const lines: JournalLine[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    for (const item of parseJson<unknown[]>()) lines.push(journalLine(item, JSON.stringify(item)));
  } else if (trimmed.startsWith('{"lines"')) {
    for (const item of parseJson<{ lines: unknown[] }>().lines ?? []) lines.push(journalLine(item, JSON.stringify(item)));
  } else {
    for (const raw of trimmed.split('\n')) if (raw.trim()) lines.push(parseJournalLine(raw));
  }
  return lines;
}

/**
 * Follows a journal stream: calls `onLine` per line until the stream ends or the signal aborts
 * (resolves), or it fails (rejects with `failure(err)`); a line over 1 MiB stops it.
 */
export function followJournalStream(
  response: http.IncomingMessage,
  onLine: (line: JournalLine) => void,
  signal: AbortSignal,
  label: string,
  failure: (err: Error) => Error,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let buffered = '';
    response.setEncoding('utf8');
    const onAbort = () => {
      response.destroy();
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (err) response.destroy();
      if (buffered.trim()) onLine(parseJournalLine(buffered));
      buffered = '';
      if (err && !signal.aborted) reject(failure(err));
      else resolve();
    };
    response.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const raw = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (raw.trim()) onLine(parseJournalLine(raw));
      }
      if (buffered.length > MAX_JOURNAL_LINE) {
        buffered = '';
        finish(new FleetApiError(`fleet API: the journal from ${label} sent a line longer than ${MAX_JOURNAL_LINE} bytes; stopped following`, 200, 'http'));
      }
    });
    response.on('end', () => finish());
    response.on('error', err => finish(err));
    response.on('close', () => finish());
  });
}

export function parseJournalLine(raw: string): JournalLine {
  try {
    return journalLine(JSON.parse(raw), raw);
  } catch {
    return { time: Date.now(), machineID: '', stream: 'system', text: `(unreadable journal line) ${raw}` };
  }
}

function journalLine(value: unknown, raw: string): JournalLine {
  const v = value as Partial<JournalLine> | null;
  if (!v || typeof v !== 'object' || typeof v.text !== 'string') {
    return { time: Date.now(), machineID: '', stream: 'system', text: `(unreadable journal line) ${raw}` };
  }
  return {
    time: typeof v.time === 'number' ? v.time : Date.now(),
    machineID: typeof v.machineID === 'string' ? v.machineID : '',
    stream: v.stream === 'stdout' || v.stream === 'stderr' || v.stream === 'system' ? v.stream : 'system',
    text: v.text,
  };
}
