/** RFC 7644 §3.12: the error body every SCIM failure answers with. */
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/** A SCIM client's mistake (4xx) or a missing resource: thrown before anything is written. */
export class ScimError extends Error {
  override readonly name = 'ScimError';
  readonly status: number;
  readonly scimType: ScimType | undefined;

  constructor(status: number, detail: string, scimType?: ScimType) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
  }

  toBody(): { schemas: string[]; status: string; scimType?: ScimType; detail: string } {
    return {
      schemas: [ERROR_SCHEMA],
      // RFC 7644 §3.12 gives status as a string.
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.message,
    };
  }
}

export const badRequest = (detail: string, scimType: ScimType) => new ScimError(400, detail, scimType);
export const notFound = (what: string) => new ScimError(404, `${what} not found`);
