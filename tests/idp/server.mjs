// The test OpenID Provider for Portcullis end-to-end tests: panva's oidc-provider (OpenID Certified),
// configured for resource-server testing and listening on 127.0.0.1.
//
//   node server.mjs --keys <file> [--keys <older file>...] [--port <n>]
//
// --keys   a JSON file holding the signing keys. If it does not exist, fresh keys are generated
//          (RSA 2048, EC P-256, Ed25519) and written there, private parts and PEM included, so a test
//          can forge tokens with the provider's own key (to prove that claim checks, not only the
//          signature, refuse them). A new file means new keys: that is how tests rotate keys.
//          Repeated, the first file signs and every file's keys are published (a rotation's
//          overlap); dropping a file removes its keys from the JWKS.
// --port   0 (default) picks a free port.
//
// Prints one JSON line {"issuer": ..., "port": ...} on stdout once it answers requests.
//
// Test-only extras, none of which a real IdP has:
// - the grant type `urn:portcullis:grant-type:test-password` (parameters `username`, `scope`,
//   `resource`) issues user tokens without a browser, like the authorization-code flow would
//   (access token, ID token when `openid` is asked for, userinfo-capable grant);
// - GET /__test/stats answers how many requests each endpoint served (jwks, introspection, ...).
import { createServer } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider, { errors } from 'oidc-provider';
import { createLocalJWKSet, jwtVerify } from 'jose';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import { issueTokens } from 'oidc-provider/lib/helpers/grant_common.js';

const { values: args } = parseArgs({
  options: { keys: { type: 'string', multiple: true }, port: { type: 'string', default: '0' } },
});
if (!args.keys?.length) {
  console.error('usage: node server.mjs --keys <file> [--keys <older file>...] [--port <n>]');
  process.exit(2);
}

function generateKeys() {
  const suffix = randomBytes(4).toString('hex');
  const make = (type, options, extra) => {
    const { privateKey, publicKey } = generateKeyPairSync(type, options);
    return {
      jwk: { ...privateKey.export({ format: 'jwk' }), ...extra },
      privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }),
      publicPem: publicKey.export({ format: 'pem', type: 'spki' }),
    };
  };
  return {
    rsa: make('rsa', { modulusLength: 2048 }, { kid: `rsa-${suffix}`, use: 'sig' }),
    ec: make('ec', { namedCurve: 'P-256' }, { kid: `ec-${suffix}`, use: 'sig', alg: 'ES256' }),
    okp: make('ed25519', {}, { kid: `okp-${suffix}`, use: 'sig' }),
    // The resource server's own key, for private_key_jwt client authentication.
    client: make('ec', { namedCurve: 'P-256' }, { kid: `client-${suffix}`, use: 'sig', alg: 'ES256' }),
  };
}

// The first key file signs; the others are published too (a rotation's overlap: tokens signed
// with older keys still verify until their file is dropped).
const keySets = args.keys.map((file) => {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const generated = generateKeys();
  writeFileSync(file, JSON.stringify(generated, null, 2));
  return generated;
});
const keys = keySets[0];
// Progress on stderr (the test fixture shows it only when the IdP fails to start).
const bootStarted = performance.now();
const progress = (what) => console.error(`test IdP: ${what} after ${Math.round(performance.now() - bootStarted)} ms (process up ${Math.round(process.uptime() * 1000)} ms)`);
progress('keys ready');
const publishedKeys = keySets.flatMap((set) => [set.rsa.jwk, set.ec.jwk, set.okp.jwk]);

// Resource servers (RFC 8707 resource indicators). A JWT access token is issued when the token
// request names one of these; without `resource` the access token is opaque.
// The identifier's last segment picks a variant; the audience is the API's identifier.
const API_SCOPES = 'hello:read hello:write hello:admin orders:read inventory:read';
function resourceServerInfo(resource) {
  const variants = {
    'urn:portcullis:hello': { audience: 'urn:portcullis:hello', alg: 'RS256' },
    'urn:portcullis:hello:ps256': { audience: 'urn:portcullis:hello', alg: 'PS256' },
    'urn:portcullis:hello:es256': { audience: 'urn:portcullis:hello', alg: 'ES256' },
    'urn:portcullis:hello:eddsa': { audience: 'urn:portcullis:hello', alg: 'EdDSA' },
    'urn:portcullis:hello:short': { audience: 'urn:portcullis:hello', alg: 'RS256', ttl: 4 },
    'urn:portcullis:hello:opaque': { audience: 'urn:portcullis:hello', format: 'opaque' },
    'urn:portcullis:hello:short-opaque': { audience: 'urn:portcullis:hello', format: 'opaque', ttl: 4 },
    'urn:portcullis:other': { audience: 'urn:portcullis:other', alg: 'RS256' },
    'urn:portcullis:other:opaque': { audience: 'urn:portcullis:other', format: 'opaque' },
    // The microservices example: gateway → orders → inventory.
    'urn:portcullis:orders': { audience: 'urn:portcullis:orders', alg: 'ES256' },
    'urn:portcullis:inventory': { audience: 'urn:portcullis:inventory', alg: 'ES256' },
  };
  // A service on loopback named by its own URL (RFC 9728: the resource a client read from the
  // service's metadata): a JWT whose audience is that URL.
  const loopback = /^http:\/\/127\.0\.0\.1:\d+(\/[^?#]*)?$/.test(resource)
    ? { audience: resource, alg: 'RS256' }
    : undefined;
  const v = variants[resource] ?? loopback;
  if (!v) throw new errors.InvalidTarget(`unknown resource ${resource}`);
  return {
    scope: API_SCOPES,
    audience: v.audience,
    accessTokenTTL: v.ttl ?? 300,
    accessTokenFormat: v.format ?? 'jwt',
    ...(v.format === 'opaque' ? {} : { jwt: { sign: { alg: v.alg } } }),
  };
}

function publicJwk({ d, ...rest }) {
  return rest;
}

const stats = {};
const clientAuth = [];
function assertionAudience(assertion) {
  if (typeof assertion !== 'string') return null;
  try {
    return JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString()).aud ?? null;
  } catch {
    return null;
  }
}
const FAULTS = ['none', 'server-error', 'garbage', 'oversized', 'slow', 'reset'];
const faults = {};
let issuerUrl;
let introspectionPatch;
const server = createServer();
server.on('error', (e) => { progress(`listen failed: ${e.message}`); process.exit(1); });
server.listen(Number(args.port), '127.0.0.1', () => {
  progress(`listening on ${args.port}`);
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  issuerUrl = issuer;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'portcullis-test',
        client_secret: 'test-secret',
        grant_types: ['client_credentials', 'urn:portcullis:grant-type:test-password'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      // The resource server itself, for introspection, once per client authentication method.
      {
        client_id: 'hello-api',
        client_secret: 'hello-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'hello-api-post',
        client_secret: 'hello-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        client_id: 'hello-api-public',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      },
      // The microservices example's services, each its own client: they exchange their callers'
      // tokens (RFC 8693) and get their own (client credentials).
      ...['gateway', 'orders', 'inventory'].map((name) => ({
        client_id: `${name}-service`,
        client_secret: `${name}-secret`,
        grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      {
        client_id: 'hello-api-jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [publicJwk(keys.client.jwk)] },
      },
    ],
    jwks: { keys: publishedKeys },
    cookies: { keys: ['portcullis-test-cookie-key'] },
    scopes: ['openid', 'profile', 'email', 'offline_access', ...API_SCOPES.split(' ')],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    features: {
      devInteractions: { enabled: false },
      // Any authenticated client may introspect any token (the default refuses public clients
      // other clients' tokens), so every client authentication method can be tested.
      introspection: { enabled: true, allowedPolicy: () => true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, resource) => resourceServerInfo(resource),
      },
    },
    // Roles as Keycloak sends them, for authority mapping: accounts named admin* are admins.
    // A token from the exchange grant names the service that acts for the user (RFC 8693 §4.1).
    extraTokenClaims: (ctx, token) => {
      if (!token.accountId) return undefined;
      const roles = token.accountId.startsWith('admin') ? ['admin', 'user'] : ['user'];
      const act = token.gty === 'token-exchange' ? { act: { sub: token.clientId } } : {};
      return { realm_access: { roles }, ...act };
    },
    findAccount: (ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, name: `Test user ${sub}`, email: `${sub}@example.test` }),
    }),
  });
  provider.on('server_error', (ctx, err) => console.error('idp server_error', err));

  // How each client authenticated at the token and introspection endpoints, as it came over
  // the wire (oidc-provider itself accepts client_secret_basic and client_secret_post
  // interchangeably, so only this record tells them apart). Served at /__test/client-auth.
  // Answer tampering: POST /__test/introspection-patch with a JSON object sets (or, for null,
  // removes) those members of every active introspection answer, so the hostile suite can
  // hand Portcullis answers that oidc-provider vouches for but that Portcullis must refuse
  // itself (another issuer or audience, an ID token, a broken `active`, ...). `{}` stops it.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token/introspection' || !introspectionPatch) return;
    if (ctx.status !== 200 || typeof ctx.body !== 'object' || ctx.body?.active !== true) return;
    for (const [name, value] of Object.entries(introspectionPatch)) {
      if (value === null) delete ctx.body[name];
      else ctx.body[name] = value;
    }
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' && ctx.path !== '/token/introspection') return;
    const params = ctx.oidc?.params ?? {};
    clientAuth.push({
      path: ctx.path,
      status: ctx.status,
      client_id: ctx.oidc?.client?.clientId ?? null,
      grant_type: params.grant_type ?? null,
      basic: /^basic /i.test(ctx.headers.authorization ?? ''),
      secret_in_body: Boolean(params.client_secret),
      assertion_type: params.client_assertion_type ?? null,
      // The `aud` of a client assertion (oidc-provider accepts the issuer, the token endpoint
      // and the endpoint called; the record says which one the client chose).
      assertion_aud: assertionAudience(params.client_assertion),
    });
  });

  const bound = Object.fromEntries(
    Object.entries(grantHelpers).map(([name, fn]) => [name, fn.bind(undefined, provider)]),
  );
  provider.registerGrantType('urn:portcullis:grant-type:test-password', async (ctx) => {
    const { params, client } = ctx.oidc;
    if (!params.username) throw new errors.InvalidRequest('username is required');
    const scopes = new Set((params.scope || '').split(' ').filter(Boolean));
    const grant = new provider.Grant({ accountId: params.username, clientId: client.clientId });
    grant.addOIDCScope([...scopes].filter((s) => ['openid', 'profile', 'email'].includes(s)).join(' '));
    if (params.resource) grant.addResourceScope(params.resource, [...scopes].join(' '));
    const grantId = await grant.save();
    const source = {
      accountId: params.username,
      grantId,
      scope: [...scopes].join(' '),
      scopes,
      authTime: Math.floor(Date.now() / 1000),
      resource: params.resource,
      resourceIndicators: new Set(params.resource ? [params.resource] : []),
    };
    await issueTokens(provider, bound, ctx, source, grant, { gty: 'password', entityLabel: 'test password grant' });
  }, ['username', 'scope', 'resource'], ['resource']);

  // RFC 8693 token exchange (oidc-provider has none built in): an access token of this issuer
  // (a JWT access token, verified; or an opaque one, looked up) for a token addressed to
  // `resource` (or `audience`), for the same user, with the requesting service as actor.
  const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
  const verificationKeys = createLocalJWKSet({ keys: publishedKeys.map(publicJwk) });
  provider.registerGrantType('urn:ietf:params:oauth:grant-type:token-exchange', async (ctx) => {
    const { params, client } = ctx.oidc;
    if (!params.subject_token) throw new errors.InvalidRequest('subject_token is required');
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`only ${ACCESS_TOKEN_TYPE} can be requested`);
    }
    let subject;
    if (params.subject_token.split('.').length === 3) {
      try {
        const { payload, protectedHeader } = await jwtVerify(params.subject_token, verificationKeys, { issuer });
        if (protectedHeader.typ !== 'at+jwt') throw new Error('not an access token');
        subject = { accountId: payload.sub, scope: payload.scope || '' };
      } catch (e) {
        throw new errors.InvalidGrant(`subject_token is not a valid access token of this issuer (${e.message})`);
      }
    } else {
      const token = await provider.AccessToken.find(params.subject_token);
      if (!token || !token.isValid) throw new errors.InvalidGrant('subject_token is not active');
      subject = { accountId: token.accountId, scope: token.scope || '' };
    }
    const resource = params.resource || params.audience;
    if (!resource) throw new errors.InvalidTarget('audience or resource is required');
    const info = resourceServerInfo(resource);
    const offered = new Set(info.scope.split(' '));
    const scope = (params.scope || subject.scope).split(' ').filter((s) => offered.has(s)).join(' ');
    const grant = new provider.Grant({ accountId: subject.accountId, clientId: client.clientId });
    grant.addResourceScope(resource, scope);
    const grantId = await grant.save();
    const token = new provider.AccessToken({ accountId: subject.accountId, client, grantId, gty: 'token-exchange' });
    token.resourceServer = new provider.ResourceServer(resource, info);
    token.scope = scope || undefined;
    ctx.body = {
      access_token: await token.save(),
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope: token.scope,
    };
  }, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope'], ['resource', 'audience']);

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const path = (req.url || '').split('?')[0];
    if (path === '/__test/stats' || path === '/__test/client-auth') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(path === '/__test/stats' ? stats : clientAuth));
      return;
    }
    // Fault injection: POST /__test/fault?path=<endpoint path>&fault=<fault> makes that endpoint
    // answer 500 (server-error), a 200 that is not JSON (garbage), 5 MB of JSON-ish bytes
    // (oversized), nothing at all (slow), or reset the connection (reset); fault=none heals it.
    if (path === '/__test/fault') {
      const query = new URL(req.url, issuerUrl).searchParams;
      const target = query.get('path');
      const fault = query.get('fault');
      if (!target || !FAULTS.includes(fault)) {
        res.statusCode = 400;
        res.end(`path and fault (${FAULTS.join(', ')}) are required`);
        return;
      }
      if (fault === 'none') delete faults[target];
      else faults[target] = fault;
      res.end('ok');
      return;
    }
    if (path === '/__test/introspection-patch') {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        try {
          const patch = JSON.parse(body);
          introspectionPatch = Object.keys(patch).length ? patch : undefined;
          res.end('ok');
        } catch (e) {
          res.statusCode = 400;
          res.end(`not JSON: ${e.message}`);
        }
      });
      return;
    }
    stats[path] = (stats[path] || 0) + 1;
    switch (faults[path]) {
      case 'server-error':
        res.statusCode = 500;
        res.setHeader('content-type', 'application/json');
        res.end('{"error":"server_error","error_description":"injected by the test"}');
        return;
      case 'garbage':
        res.setHeader('content-type', 'application/json');
        res.end('<html>this is not JSON');
        return;
      case 'oversized':
        res.setHeader('content-type', 'application/json');
        res.write('[');
        for (let i = 0; i < 80; i += 1) res.write('1'.repeat(64 * 1024));
        res.end(']');
        return;
      case 'slow':
        return; // never answered; the client's timeout decides
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      default:
        callback(req, res);
    }
  });
  progress('provider ready');
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});
