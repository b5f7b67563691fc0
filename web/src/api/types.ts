import type { components, operations } from './schema';

/** Names for the generated types (schema.d.ts, from docs/openapi.json): aliases, never copies. */
type Schemas = components['schemas'];
export type AccessRequest = Schemas['Request'];
export type Credential = Schemas['Credential'];
export type Resource = Schemas['Resource'];
export type AuditEvent = Schemas['AuditEvent'];
export type WhoAmI = Schemas['WhoAmI'];
export type ApiErrorBody = Schemas['Error'];
export type ErrorCode = ApiErrorBody['error']['code'];
export type RequestState = AccessRequest['state'];

type Ok<Op extends keyof operations> = operations[Op]['responses'] extends { 200: infer R }
  ? R extends { content: { 'application/json': infer J } }
    ? J
    : never
  : never;

export type RequestPreview = Ok<'previewRequest'>;
export type SessionInfo = Ok<'getSession'>;
export type MfaStatus = Ok<'getMfaStatus'>;
export type InclusionProof = Ok<'getInclusionProof'>;
export type AuditKey = Ok<'getAuditKey'>;

export type Invocation = Ok<'listBreakglass'>['invocations'][number];
export type Postmortem = Ok<'getPostmortem'>;

export type SessionReview = Ok<'listSessionReviews'>['reviews'][number];
export type RecordedSession = Ok<'listRecordedSessions'>['sessions'][number];
export type RecordedSessionDetail = Ok<'getRecordedSession'>;
export type Recording = RecordedSessionDetail['recordings'][number];
export type Verdict = NonNullable<SessionReview['verdict']>;
