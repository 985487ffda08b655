/**
 * GET /discovery: a Google API discovery document describing fleet's v1 API (the format and the
 * resource/method IDs fleet's schema uses: fleet.Unit.Get, fleet.UnitState.List, …), built here from
 * our own description of the routes rather than copied.
 */

const str = { type: 'string' };
const pageTokenParam = { nextPageToken: { type: 'string', location: 'query' } };
const unitNameParam = { unitName: { type: 'string', location: 'path', required: true } };
const ref = (name: string) => ({ $ref: name });

const schemas = {
  Machine: { id: 'Machine', type: 'object', properties: { id: str, primaryIP: str, metadata: { type: 'object', additionalProperties: str } } },
  MachinePage: { id: 'MachinePage', type: 'object', properties: { machines: { type: 'array', items: ref('Machine') }, nextPageToken: str } },
  UnitOption: { id: 'UnitOption', type: 'object', properties: { section: str, name: str, value: str } },
  Unit: {
    id: 'Unit',
    type: 'object',
    properties: {
      name: str,
      options: { type: 'array', items: ref('UnitOption') },
      desiredState: { type: 'string', enum: ['inactive', 'loaded', 'launched'] },
      currentState: { type: 'string', enum: ['inactive', 'loaded', 'launched'] },
      machineID: { type: 'string', required: true },
    },
  },
  UnitPage: { id: 'UnitPage', type: 'object', properties: { units: { type: 'array', items: ref('Unit') }, nextPageToken: str } },
  UnitState: {
    id: 'UnitState',
    type: 'object',
    properties: { name: str, hash: str, machineID: str, systemdLoadState: str, systemdActiveState: str, systemdSubState: str },
  },
  UnitStatePage: { id: 'UnitStatePage', type: 'object', properties: { states: { type: 'array', items: ref('UnitState') }, nextPageToken: str } },
};

const item = (id: string, httpMethod: string, path: string, extra: object = {}) => ({
  id,
  httpMethod,
  path,
  parameters: unitNameParam,
  parameterOrder: ['unitName'],
  ...extra,
});

const resources = {
  Machines: { methods: { List: { id: 'fleet.Machine.List', httpMethod: 'GET', path: 'machines', parameters: pageTokenParam, response: ref('MachinePage') } } },
  Units: {
    methods: {
      List: { id: 'fleet.Unit.List', httpMethod: 'GET', path: 'units', parameters: pageTokenParam, response: ref('UnitPage') },
      Get: item('fleet.Unit.Get', 'GET', 'units/{unitName}', { response: ref('Unit') }),
      Delete: item('fleet.Unit.Delete', 'DELETE', 'units/{unitName}'),
      Set: item('fleet.Unit.Set', 'PUT', 'units/{unitName}', { request: ref('Unit') }),
    },
  },
  UnitState: {
    methods: {
      List: {
        id: 'fleet.UnitState.List',
        httpMethod: 'GET',
        path: 'state',
        parameters: { ...pageTokenParam, unitName: { type: 'string', location: 'query' }, machineID: { type: 'string', location: 'query' } },
        response: ref('UnitStatePage'),
      },
      Get: item('fleet.UnitState.Get', 'GET', 'state/{unitName}', { response: ref('UnitState') }),
    },
  },
};

/** The document, serialized once. */
export const DISCOVERY_JSON = JSON.stringify({
  kind: 'discovery#restDescription',
  discoveryVersion: 'v1',
  id: 'fleet:v1',
  name: 'schema',
  version: 'v1',
  title: 'fleet API',
  description: '',
  documentationLink: 'http://github.com/coreos/fleet',
  protocol: 'rest',
  baseUrl: '$ENDPOINT/fleet/v1/',
  basePath: '/fleet/v1/',
  rootUrl: '$ENDPOINT/',
  servicePath: 'fleet/v1/',
  batchPath: 'batch',
  parameters: { alt: { type: 'string', default: 'json', enum: ['json'], location: 'query' } },
  schemas,
  resources,
});
