import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from './scim-resources.js';
import { MAX_PAGE } from './scim-service.js';

/** What an identity provider reads before provisioning (RFC 7643 §5–7): what Stint supports and reads. */
export const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
export const RT_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

const attr = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...extra,
});

/** What Stint reads of each resource (RFC 7643 §7); anything else an IdP sends is accepted and ignored. */
export const SCHEMAS = [
  {
    id: USER_SCHEMA,
    name: 'User',
    description: 'A person who may request access',
    attributes: [
      attr('userName', 'string', { required: true, uniqueness: 'server' }),
      attr('externalId', 'string', { caseExact: true }),
      attr('displayName', 'string'),
      attr('name', 'complex', {
        subAttributes: [
          attr('formatted', 'string'),
          attr('givenName', 'string'),
          attr('familyName', 'string'),
        ],
      }),
      attr('emails', 'complex', {
        multiValued: true,
        required: true,
        subAttributes: [
          attr('value', 'string', { required: true }),
          attr('type', 'string'),
          attr('primary', 'boolean'),
        ],
      }),
      attr('active', 'boolean'),
      attr('groups', 'complex', {
        multiValued: true,
        mutability: 'readOnly',
        subAttributes: [attr('value', 'string'), attr('display', 'string'), attr('$ref', 'reference')],
      }),
    ],
  },
  {
    id: ENTERPRISE_SCHEMA,
    name: 'EnterpriseUser',
    description: 'Enterprise User: Stint reads the manager',
    attributes: [
      attr('employeeNumber', 'string'),
      attr('department', 'string'),
      attr('manager', 'complex', { subAttributes: [attr('value', 'string'), attr('$ref', 'reference')] }),
    ],
  },
  {
    id: GROUP_SCHEMA,
    name: 'Group',
    description: 'A team; some groups also confer security, auditor or admin',
    attributes: [
      attr('displayName', 'string', { required: true }),
      attr('externalId', 'string', { caseExact: true }),
      attr('members', 'complex', {
        multiValued: true,
        subAttributes: [attr('value', 'string', { mutability: 'immutable' }), attr('display', 'string')],
      }),
    ],
  },
].map((s) => ({
  schemas: [SCHEMA_SCHEMA],
  ...s,
  meta: { resourceType: 'Schema', location: `/scim/v2/Schemas/${s.id}` },
}));

export const RESOURCE_TYPES = [
  {
    schemas: [RT_SCHEMA],
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    schema: USER_SCHEMA,
    schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
    meta: { resourceType: 'ResourceType', location: '/scim/v2/ResourceTypes/User' },
  },
  {
    schemas: [RT_SCHEMA],
    id: 'Group',
    name: 'Group',
    endpoint: '/Groups',
    schema: GROUP_SCHEMA,
    meta: { resourceType: 'ResourceType', location: '/scim/v2/ResourceTypes/Group' },
  },
];

export const SERVICE_PROVIDER_CONFIG = {
  schemas: [SPC_SCHEMA],
  patch: { supported: true },
  bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
  filter: { supported: true, maxResults: MAX_PAGE },
  changePassword: { supported: false },
  sort: { supported: false },
  etag: { supported: false },
  authenticationSchemes: [
    {
      type: 'oauthbearertoken',
      name: 'Bearer token',
      description: 'The provisioning token configured in Stint (STINT_SCIM_TOKEN)',
      primary: true,
    },
  ],
  meta: { resourceType: 'ServiceProviderConfig', location: '/scim/v2/ServiceProviderConfig' },
};
