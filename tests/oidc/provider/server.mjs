// An OpenID Connect provider for the tests and for trying sign-in locally: oidc-provider with
// its development login page (any password is accepted for a known user), one client for the
// portal, and users read from a JSON file at every sign-in, so a test can change a user's
// groups between two sign-ins.
//
// Environment: PORT, ISSUER (default http://127.0.0.1:PORT), USERS_FILE, CLIENTS_FILE.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 9400);
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const here = new URL('.', import.meta.url).pathname;
const usersFile = process.env.USERS_FILE || `${here}demo-users.json`;
const clientsFile = process.env.CLIENTS_FILE || `${here}demo-clients.json`;

function users() {
  return JSON.parse(readFileSync(usersFile, 'utf8'));
}

const configuration = {
  clients: JSON.parse(readFileSync(clientsFile, 'utf8')),
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: { AuthorizationCode: 60, IdToken: 600, AccessToken: 600, Session: 3600, Interaction: 600, Grant: 3600 },
  cookies: { keys: ['test-provider-cookie-key-not-a-secret'] },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        const current = users()[id] || user;
        return {
          sub: id,
          email: current.email,
          email_verified: current.email_verified ?? true,
          name: current.name,
          preferred_username: current.preferred_username ?? id,
          groups: current.groups ?? [],
        };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('server_error', error));
const server = http.createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  console.log(`identity provider listening at ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
