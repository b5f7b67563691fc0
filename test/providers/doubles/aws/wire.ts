import { randomUUID } from 'node:crypto';

/** What a handler answers: the server writes it as is. */
export interface WireAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A failure the service itself would send, in the protocol of the service that sends it. */
export class AwsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const fault = (status: number, code: string, message: string) => new AwsFault(status, code, message);

// ---- Query protocol (STS, IAM): form-encoded parameters in, XML out ----

export type QueryParams = Map<string, string>;

export function parseQuery(body: string): QueryParams {
  return new Map(new URLSearchParams(body));
}

/**
 * The parameters an action accepts, exactly: a name outside them is refused, so a client sending a misspelt or
 * unexpected parameter fails the test instead of being ignored. `Tags` allows `Tags.member.N.Key/Value`.
 */
export function expectParams(params: QueryParams, action: string, allowed: readonly string[]): void {
  for (const name of params.keys()) {
    if (name === 'Action' || name === 'Version') continue;
    const base = name.replace(/\.member\.\d+(\.(Key|Value))?$/, '');
    if (!allowed.includes(base)) throw fault(400, 'ValidationError', `${action} does not take ${name}`);
  }
}

export function required(params: QueryParams, name: string): string {
  const v = params.get(name);
  if (v === undefined || v === '') throw fault(400, 'ValidationError', `${name} is required`);
  return v;
}

/** `Prefix.member.1`, `Prefix.member.2`, … in order, stopping at the first gap. */
export function memberList(params: QueryParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${prefix}.member.${i}`); i++)
    out.push(params.get(`${prefix}.member.${i}`) ?? '');
  return out;
}

export function memberTags(params: QueryParams, prefix = 'Tags'): { Key: string; Value: string }[] {
  const out: { Key: string; Value: string }[] = [];
  for (let i = 1; params.has(`${prefix}.member.${i}.Key`); i++) {
    out.push({
      Key: params.get(`${prefix}.member.${i}.Key`) ?? '',
      Value: params.get(`${prefix}.member.${i}.Value`) ?? '',
    });
  }
  return out;
}

export const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `<Name>value</Name>` for each defined field, in order. */
export function xmlFields(fields: Record<string, string | number | boolean | undefined>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
    .join('');
}

export function queryAnswer(action: string, namespace: string, result: string | null): WireAnswer {
  const inner = result === null ? '' : `<${action}Result>${result}</${action}Result>`;
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<${action}Response xmlns="${namespace}">${inner}<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

export function queryFault(f: AwsFault, namespace: string): WireAnswer {
  const type = f.status >= 500 ? 'Receiver' : 'Sender';
  return {
    status: f.status,
    headers: { 'content-type': 'text/xml' },
    body: `<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${f.code}</Code><Message>${xmlEscape(f.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

// ---- JSON 1.1 protocol (SSO Admin): X-Amz-Target names the operation ----

export function jsonAnswer(value: unknown): WireAnswer {
  return {
    status: 200,
    headers: { 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify(value),
  };
}

export function jsonFault(f: AwsFault): WireAnswer {
  return {
    status: f.status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': f.code },
    body: JSON.stringify({ __type: f.code, Message: f.message }),
  };
}

/** The JSON body's fields, exactly: missing required ones and unexpected ones are refused. */
export function expectFields(
  body: Record<string, unknown>,
  operation: string,
  requiredFields: readonly string[],
  optional: readonly string[] = [],
): void {
  for (const k of Object.keys(body)) {
    if (!requiredFields.includes(k) && !optional.includes(k))
      throw fault(400, 'ValidationException', `${operation} does not take ${k}`);
  }
  for (const k of requiredFields) {
    if (body[k] === undefined || body[k] === '')
      throw fault(400, 'ValidationException', `${operation}: ${k} is required`);
  }
}
