// panva's oidc-provider (OpenID Certified), configured for tests/test_oidc_provider.py.
// Usage: node server.js PORT REDIRECT_URI
// Listens on 127.0.0.1:PORT only and prints "READY <issuer>" once it accepts connections.
// One confidential client (PKCE S256 required, code flow, rotating refresh tokens), one test
// account (log in as "alice" with any password through the development interactions), and a
// test-only POST /test-admin/rotate-keys that swaps in a provider with new signing keys (the old
// ones stay published, as a real rotation does) while keeping every grant, code and session: the
// in-memory adapter's storage is module-level, so it is shared by both provider instances.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const redirectUri = process.argv[3];
if (!Number.isInteger(port) || port <= 0 || !redirectUri) {
  console.error('usage: node server.js PORT REDIRECT_URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const accounts = {
  alice: {
    preferred_username: 'alice',
    name: 'Alice Example',
    email: 'alice@example.com',
    email_verified: true,
    groups: ['staff', 'admins'],
  },
};

let generation = 0;
function signingKeys() {
  generation += 1;
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rsa-${generation}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `ec-${generation}`, alg: 'ES256', use: 'sig' },
  ];
}

function makeProvider(keys) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'harness-client',
      client_secret: 'harness-client-secret-0123456789abcdef',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [`${new URL(redirectUri).origin}/`], // RP-initiated logout comes back home
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: true } },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
    },
    issueRefreshToken: async () => true,
    rotateRefreshToken: () => true,
    cookies: { keys: ['harness-cookie-key-0123456789abcdef'] },
    jwks: { keys },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

let keys = signingKeys();
let callback = makeProvider(keys).callback();

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/test-admin/rotate-keys') {
    keys = [...signingKeys(), ...keys.slice(0, 2)]; // new keys first (they sign), old ones still published
    callback = makeProvider(keys).callback();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => console.log(`READY ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
