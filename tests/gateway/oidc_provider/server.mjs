// A real OpenID Connect provider (panva/oidc-provider) on loopback for the gateway tests.
// Configuration comes from environment variables set by tests/gateway/oidc_server.py:
//   OIDC_PORT, OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI,
//   OIDC_POST_LOGOUT_REDIRECT_URI,
//   OIDC_JWKS (private JWK set as JSON), OIDC_ACCOUNTS_FILE (a JSON file: login -> claims, read
//   at every sign-in, so a test can change a user's groups at the provider between two sign-ins).
// Sign-in uses the provider's built-in development interactions (login + consent forms).
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
};

const accountsFile = env('OIDC_ACCOUNTS_FILE');
const provider = new Provider(env('OIDC_ISSUER'), {
  clients: [{
    client_id: env('OIDC_CLIENT_ID'),
    client_secret: env('OIDC_CLIENT_SECRET'),
    redirect_uris: [env('OIDC_REDIRECT_URI')],
    post_logout_redirect_uris: [env('OIDC_POST_LOGOUT_REDIRECT_URI')],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: JSON.parse(env('OIDC_JWKS')),
  cookies: { keys: ['klikkflow-test-oidc-cookie-key'] },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  scopes: ['openid', 'email', 'groups'],
  features: { devInteractions: { enabled: true } },
  ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Session: 600, Interaction: 600, Grant: 600 },
  async findAccount(ctx, id) {
    const claims = JSON.parse(readFileSync(accountsFile, 'utf8'))[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});
provider.proxy = false;

const port = Number(env('OIDC_PORT'));
provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${port}`);
});
