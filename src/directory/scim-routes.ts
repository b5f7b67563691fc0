import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStintError, type StintError } from '../domain/errors.js';
import { strictJsonParser } from '../http/json-body.js';
import type { SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { ScimAuthenticator } from './scim-auth.js';
import { RESOURCE_TYPES, SCHEMAS, SERVICE_PROVIDER_CONFIG } from './scim-discovery.js';
import { ScimError } from './scim-errors.js';
import type { ScimService } from './scim-service.js';

const SCIM_TYPE = 'application/scim+json; charset=utf-8';

export interface ScimRoutesDeps {
  service: ScimService;
  authenticate: ScimAuthenticator;
}

function listOf(resources: readonly Record<string, unknown>[]) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

function sendError(reply: FastifyReply, e: ScimError) {
  return reply.status(e.status).type(SCIM_TYPE).send(e.toBody());
}

/** RFC 7644 §3.12's error body, as the OpenAPI document describes it. */
const scimErrorView = {
  type: 'object',
  properties: {
    schemas: { type: 'array', items: { type: 'string' } },
    status: { type: 'string' },
    scimType: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;
const scimErrors = {
  400: scimErrorView,
  401: scimErrorView,
  404: scimErrorView,
  409: scimErrorView,
  413: scimErrorView,
  500: scimErrorView,
} as const;
/** A SCIM resource or list: every attribute the service returns is passed through as it is. */
const resourceView = { type: 'object', additionalProperties: true } as const;
const resourceBody = {
  type: 'object',
  description: 'A SCIM resource (RFC 7643) or PatchOp (RFC 7644 §3.5.2)',
} as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;

/**
 * The OpenAPI description of one SCIM operation; SCIM has its own token (STINT_SCIM_TOKEN), not Stint's.
 * `extra` keeps its literal type, so the route's request and reply types come from its schemas.
 */
function doc<const Extra extends object>(operationId: string, summary: string, extra = {} as Extra) {
  return {
    operationId,
    summary,
    tags: ['scim'],
    security: [{ bearer: [] }],
    response: { 200: resourceView, ...scimErrors },
    ...extra,
  };
}

/**
 * SCIM 2.0 (RFC 7644) for identity providers pushing users and groups. Public as far as the user-token hook
 * is concerned (`config.public`): this plugin authenticates the IdP itself and answers every failure in the
 * SCIM error format, not Stint's.
 */
export function scimRoutes(deps: ScimRoutesDeps) {
  async function scim(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    app.addContentTypeParser('application/scim+json', { parseAs: 'buffer' }, strictJsonParser(app));

    app.setErrorHandler((err: FastifyError | ScimError | StintError, request, reply) => {
      if (err instanceof ScimError) return sendError(reply, err);
      // Refusals of the shared HTTP layer (a body where none belongs, a body that is not JSON): same status.
      const status = isStintError(err) ? err.status : err.statusCode;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        // Malformed JSON, wrong content type, body too large: the client's fault, nothing was read.
        return sendError(
          reply,
          new ScimError(status, err.message, status === 400 ? 'invalidSyntax' : undefined),
        );
      }
      request.log.error({ err }, 'unhandled SCIM error');
      return sendError(reply, new ScimError(500, `internal error (request ${request.id})`));
    });
    app.setNotFoundHandler((request, reply) =>
      sendError(reply, new ScimError(404, `no SCIM endpoint ${request.method} ${request.url}`)),
    );

    app.addHook('onRequest', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
      if (token === '' || !(await deps.authenticate(token))) {
        throw new ScimError(401, 'a valid provisioning bearer token is required');
      }
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (reply.statusCode !== 204) reply.type(SCIM_TYPE);
      return payload;
    });

    // A full-group PUT from an IdP lists every member: more than the API's 64 KiB default.
    const opts = { config: { public: true }, bodyLimit: 1024 * 1024 } as const;
    const s = deps.service;
    const get = (operationId: string, summary: string) => ({
      ...opts,
      schema: doc(operationId, summary),
    });
    const withId = <const Extra extends object>(
      operationId: string,
      summary: string,
      extra = {} as Extra,
    ) => ({
      ...opts,
      schema: doc(operationId, summary, { params: idParams, ...extra }),
    });
    const created = { response: { 201: resourceView, ...scimErrors }, body: resourceBody } as const;
    const deleted = { response: { 204: { type: 'null' }, ...scimErrors } } as const;
    const list = {
      querystring: {
        type: 'object',
        properties: {
          filter: { type: 'string' },
          startIndex: { type: 'string' },
          count: { type: 'string' },
          attributes: { type: 'string' },
          excludedAttributes: { type: 'string' },
        },
      },
    } as const;

    api.get(
      '/ServiceProviderConfig',
      get('scimGetServiceProviderConfig', 'What this SCIM service supports'),
      async () => SERVICE_PROVIDER_CONFIG,
    );
    api.get('/Schemas', get('scimListSchemas', 'The SCIM schemas Stint reads'), async () => listOf(SCHEMAS));
    api.get('/Schemas/:id', withId('scimGetSchema', 'One SCIM schema'), async (req) => {
      const found = SCHEMAS.find((x) => x.id === req.params.id);
      if (!found) throw new ScimError(404, `schema ${req.params.id} not found`);
      return found;
    });
    api.get('/ResourceTypes', get('scimListResourceTypes', 'Users and Groups'), async () =>
      listOf(RESOURCE_TYPES),
    );
    api.get('/ResourceTypes/:id', withId('scimGetResourceType', 'One SCIM resource type'), async (req) => {
      const found = RESOURCE_TYPES.find((x) => x.id === req.params.id);
      if (!found) throw new ScimError(404, `resource type ${req.params.id} not found`);
      return found;
    });

    api.post(
      '/Users',
      { ...opts, schema: doc('scimCreateUser', 'Provision a user', created) },
      async (req, reply) => {
        const user = await s.createUser(req.body);
        return reply
          .status(201)
          .header('location', String((user.meta as { location: string }).location))
          .send(user);
      },
    );
    api.get(
      '/Users',
      { ...opts, schema: doc('scimListUsers', 'Users, filtered and paged', list) },
      async (req) => s.listUsers(req.query),
    );
    api.get('/Users/:id', withId('scimGetUser', 'One user'), async (req) => s.getUser(req.params.id));
    api.put('/Users/:id', withId('scimReplaceUser', 'Replace a user', { body: resourceBody }), async (req) =>
      s.replaceUser(req.params.id, req.body),
    );
    api.patch(
      '/Users/:id',
      withId('scimPatchUser', 'Change a user (PatchOp)', { body: resourceBody }),
      async (req) => s.patchUser(req.params.id, req.body),
    );
    api.delete(
      '/Users/:id',
      withId('scimDeleteUser', 'Deprovision a user: their access ends', deleted),
      async (req, reply: FastifyReply) => {
        await s.deleteUser(req.params.id);
        return reply.status(204).send();
      },
    );

    api.post(
      '/Groups',
      { ...opts, schema: doc('scimCreateGroup', 'Provision a group', created) },
      async (req, reply) => {
        const group = await s.createGroup(req.body);
        return reply
          .status(201)
          .header('location', String((group.meta as { location: string }).location))
          .send(group);
      },
    );
    api.get(
      '/Groups',
      { ...opts, schema: doc('scimListGroups', 'Groups, filtered and paged', list) },
      async (req) => s.listGroups(req.query),
    );
    api.get('/Groups/:id', withId('scimGetGroup', 'One group'), async (req) => s.getGroup(req.params.id));
    api.put(
      '/Groups/:id',
      withId('scimReplaceGroup', 'Replace a group', { body: resourceBody }),
      async (req) => s.replaceGroup(req.params.id, req.body),
    );
    api.patch(
      '/Groups/:id',
      withId('scimPatchGroup', 'Change a group (PatchOp)', { body: resourceBody }),
      async (req) => s.patchGroup(req.params.id, req.body),
    );
    api.delete(
      '/Groups/:id',
      withId('scimDeleteGroup', 'Remove a group', deleted),
      async (req, reply: FastifyReply) => {
        await s.deleteGroup(req.params.id);
        return reply.status(204).send();
      },
    );

    // RFC 7644 §3.7: a service provider without bulk support answers 501, as ServiceProviderConfig says.
    const bulkUnsupported = async () => {
      throw new ScimError(
        501,
        'bulk operations are not supported (ServiceProviderConfig: bulk.supported false)',
      );
    };
    api.post(
      '/Bulk',
      {
        ...opts,
        // Refused before the body is read: nothing of it is ever looked at.
        onRequest: bulkUnsupported,
        schema: doc('scimBulk', 'Bulk operations: not supported (501)', {
          response: { 501: scimErrorView, ...scimErrors },
        }),
      },
      bulkUnsupported,
    );

    // Anything else under /scim/v2 is a SCIM 404 once the IdP's token is checked. A route of this plugin rather
    // than the not-found handler, so Stint's user-token check (and its lock-out count) never sees SCIM traffic.
    const unknown = async (request: FastifyRequest) => {
      throw new ScimError(
        404,
        `no SCIM endpoint ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`,
      );
    };
    api.all('/*', { ...opts, onRequest: unknown, schema: { hide: true } }, unknown);
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    await app.register(scim, { prefix: '/scim/v2' });
  };
}

const scimToken = (paths: string[]): ModuleRoutes['access'] =>
  Object.fromEntries(paths.map((p) => [p, 'scim-token']));

/** SCIM authenticates with STINT_SCIM_TOKEN only, never a user credential: the plugin checks it itself. */
export const SCIM_ROUTE_ACCESS: ModuleRoutes['access'] = {
  ...scimToken([
    'GET /scim/v2/ServiceProviderConfig',
    'GET /scim/v2/Schemas',
    'GET /scim/v2/Schemas/:id',
    'GET /scim/v2/ResourceTypes',
    'GET /scim/v2/ResourceTypes/:id',
    'POST /scim/v2/Users',
    'GET /scim/v2/Users',
    'GET /scim/v2/Users/:id',
    'PUT /scim/v2/Users/:id',
    'PATCH /scim/v2/Users/:id',
    'DELETE /scim/v2/Users/:id',
    'POST /scim/v2/Groups',
    'GET /scim/v2/Groups',
    'GET /scim/v2/Groups/:id',
    'PUT /scim/v2/Groups/:id',
    'PATCH /scim/v2/Groups/:id',
    'DELETE /scim/v2/Groups/:id',
    'POST /scim/v2/Bulk',
  ]),
  // Every other path under /scim/v2, any method: the plugin answers it with a SCIM 404 (or 501).
  '* /scim/v2/*': 'scim-token',
};
