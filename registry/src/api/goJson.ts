/**
 * JSON decoding with the behaviour of Go's `json.NewDecoder(body).Decode(&v)`, because fleet's API
 * puts Go's error text in its 400 messages (`unable to decode body: …`) and fleetctl users see it:
 *
 *  - only the first JSON value is read (trailing bytes are ignored); an empty body is `EOF`, a
 *    truncated one `unexpected EOF`;
 *  - syntax errors read `invalid character 'x' looking for beginning of value` and so on, as Go's
 *    scanner words them;
 *  - object keys match struct fields exactly or case-insensitively, unknown keys are ignored, a
 *    `null` leaves the field alone, and the first type mismatch is reported as
 *    `json: cannot unmarshal number into Go struct field Unit.name of type string` after the
 *    whole value was read.
 */

export class GoJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoJsonError';
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Go's quoteChar: how the scanner shows the offending character. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  const code = c.codePointAt(0)!;
  const escapes: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\' };
  if (escapes[c]) return `'${escapes[c]}'`;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  private peek(): string | undefined {
    return this.pos < this.text.length ? this.text[this.pos] : undefined;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else break;
    }
  }

  private fail(context: string): never {
    const c = this.peek();
    if (c === undefined) throw new GoJsonError('unexpected EOF');
    // Go's scanner works on bytes: a non-ASCII character shows as its first UTF-8 byte read as a rune.
    const first = Buffer.from(String.fromCodePoint(this.text.codePointAt(this.pos)!), 'utf8')[0]!;
    throw new GoJsonError(`invalid character ${quoteChar(String.fromCharCode(first))} ${context}`);
  }

  /** The first value of the text (Go's Decoder.Decode). */
  first(): JsonValue {
    this.skipSpace();
    if (this.peek() === undefined) throw new GoJsonError('EOF');
    return this.value();
  }

  private value(): JsonValue {
    this.skipSpace();
    const c = this.peek();
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail('looking for beginning of value');
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() !== word[i]) this.fail(`in literal ${word} (expecting '${word[i]}')`);
      this.pos++;
    }
    return value;
  }

  private object(): { [key: string]: JsonValue } {
    this.pos++; // {
    const out: { [key: string]: JsonValue } = {};
    this.skipSpace();
    if (this.peek() === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '"') this.fail('looking for beginning of object key string');
      const key = this.string();
      this.skipSpace();
      if (this.peek() !== ':') this.fail('after object key');
      this.pos++;
      const v = this.value();
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      this.fail('after object key:value pair');
    }
  }

  private array(): JsonValue[] {
    this.pos++; // [
    const out: JsonValue[] = [];
    this.skipSpace();
    if (this.peek() === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skipSpace();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return out;
      }
      this.fail('after array element');
    }
  }

  private string(): string {
    this.pos++; // "
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('in string literal');
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c < ' ') this.fail('in string literal');
      if (c === '\\') {
        this.pos++;
        const e = this.peek();
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          this.pos++;
          continue;
        }
        if (e === 'u') {
          this.pos++;
          let hex = '';
          for (let i = 0; i < 4; i++) {
            const h = this.peek();
            if (h === undefined || !/[0-9a-fA-F]/.test(h)) this.fail('in \\u hexadecimal character escape');
            hex += h;
            this.pos++;
          }
          out += String.fromCharCode(parseInt(hex, 16));
          continue;
        }
        this.fail('in string escape code');
      }
      out += c;
      this.pos++;
    }
  }

  private number(): number {
    const start = this.pos;
    const digits = () => {
      while (this.peek() !== undefined && this.peek()! >= '0' && this.peek()! <= '9') this.pos++;
    };
    const isDigit = () => this.peek() !== undefined && this.peek()! >= '0' && this.peek()! <= '9';
    if (this.peek() === '-') {
      this.pos++;
      if (!isDigit()) this.fail('in numeric literal');
    }
    if (this.peek() === '0') this.pos++;
    else digits();
    if (this.peek() === '.') {
      this.pos++;
      if (!isDigit()) this.fail('after decimal point in numeric literal');
      digits();
    }
    if (this.peek() === 'e' || this.peek() === 'E') {
      this.pos++;
      if (this.peek() === '+' || this.peek() === '-') this.pos++;
      if (!isDigit()) this.fail('in exponent of numeric literal');
      digits();
    }
    return Number(this.text.slice(start, this.pos));
  }
}

/** Parses the first JSON value of `text` the way Go's Decoder does (errors carry Go's text). */
export function decodeFirst(text: string): JsonValue {
  return new Scanner(text).first();
}

/** Go's name for the JSON kind of a value, as in `cannot unmarshal number into …`. */
export function goKind(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

/**
 * Visits an object's keys in document order as Go's decoder does: each key goes to the field of
 * that name, matched exactly or else case-insensitively; unknown keys are skipped; a later key for
 * the same field overwrites an earlier one.
 */
export function forEachField(obj: { [key: string]: JsonValue }, fields: readonly string[], visit: (field: string, value: JsonValue) => void): void {
  for (const key of Object.keys(obj)) {
    const name = fields.includes(key) ? key : fields.find(f => f.toLowerCase() === key.toLowerCase());
    if (name !== undefined) visit(name, obj[key]!);
  }
}

/** Collects the first type mismatch while the whole value is still mapped (Go reports it at the end). */
export class TypeErrors {
  first: string | undefined;

  mismatch(value: JsonValue, goStruct: string, fieldPath: string, goType: string): void {
    this.first ??= `json: cannot unmarshal ${goKind(value)} into Go struct field ${goStruct}.${fieldPath} of type ${goType}`;
  }

  topLevel(value: JsonValue, goType: string): void {
    this.first ??= `json: cannot unmarshal ${goKind(value)} into Go value of type ${goType}`;
  }

  /** A string field's value: "" for null (Go leaves the field alone); a mismatch is recorded. */
  string(value: JsonValue, goStruct: string, path: string): string | undefined {
    if (value === null) return undefined;
    if (typeof value === 'string') return value;
    this.mismatch(value, goStruct, path, 'string');
    return undefined;
  }

  throwIfAny(): void {
    if (this.first !== undefined) throw new GoJsonError(this.first);
  }
}

export function isJsonObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
