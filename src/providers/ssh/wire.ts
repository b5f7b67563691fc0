/**
 * SSH wire encoding (RFC 4251 §5) for the certificate and KRL formats: big-endian integers and length-prefixed
 * strings, written into one buffer and read back by a cursor that refuses to run past the end.
 */

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, n));
  return b;
}

export function string(value: Buffer | string): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([u32(data.length), data]);
}

/** A list of strings packed inside one string, as certificates carry their principals. */
export function stringList(values: readonly string[]): Buffer {
  return string(Buffer.concat(values.map((v) => string(v))));
}

/**
 * Critical options and extensions: `string name, string data` pairs, sorted by name, each name once. A flag's
 * data is empty; a value is itself a string inside the data (PROTOCOL.certkeys, "Critical options").
 */
export function optionList(options: ReadonlyMap<string, string | null>): Buffer {
  const names = [...options.keys()].sort();
  return string(
    Buffer.concat(
      names.map((name) => {
        const value = options.get(name);
        return Buffer.concat([string(name), string(value == null ? Buffer.alloc(0) : string(value))]);
      }),
    ),
  );
}

export class WireError extends Error {
  override readonly name = 'WireError';
}

/** Reads SSH wire fields in order; any field that would run past the end throws WireError. */
export class WireReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private take(n: number): Buffer {
    if (n < 0 || this.offset + n > this.buf.length) throw new WireError('truncated');
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u8(): number {
    return this.take(1).readUInt8(0);
  }

  u32(): number {
    return this.take(4).readUInt32BE(0);
  }

  u64(): bigint {
    return this.take(8).readBigUInt64BE(0);
  }

  bytes(): Buffer {
    return this.take(this.u32());
  }

  text(): string {
    return this.bytes().toString('utf8');
  }

  /** What is left, as it is: the fields of a public key blob after its type name. */
  rest(): Buffer {
    return this.take(this.remaining);
  }
}
