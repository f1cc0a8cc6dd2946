// A real OpenID Provider for single sign-on tests: oidc-provider (the certified Node implementation) on an
// ephemeral loopback port, with one confidential client that must use PKCE, and an interaction policy driven by
// the test: the next login signs in whichever account the test named (no form), and consent grants the scopes
// asked for. Accounts and their claims (username, e-mail, groups) are the test's to change between logins.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface ProviderAccount {
  username: string;
  email?: string;
  groups: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** By subject (`sub`); change an entry to change what the next login's claims say. */
  accounts: Map<string, ProviderAccount>;
  /** The subject the next login prompt signs in. */
  signInAs(subject: string): void;
  /** Registers Berth's callback (known once Berth listens); must be called before the first login. */
  configure(redirectUri: string): void;
  close(): Promise<void>;
}

export async function startOpenIdProvider(): Promise<TestProvider> {
  const accounts = new Map<string, ProviderAccount>();
  let next: string | undefined;
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (!provider) {
      res.writeHead(503).end('provider not configured yet');
      return;
    }
    const handle = req.url?.startsWith('/interaction/')
      ? interact(provider, req, res)
      : Promise.resolve(provider.callback()(req, res));
    handle.catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'berth';
  const clientSecret = 'berth-client-secret-for-tests';
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test' };

  const interact = async (
    op: Provider,
    req: Parameters<Provider['interactionDetails']>[0],
    res: Parameters<Provider['interactionDetails']>[1],
  ) => {
    const details = await op.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      if (next === undefined) throw new Error('the test named no account to sign in');
      await op.interactionFinished(
        req,
        res,
        { login: { accountId: next } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (details.prompt.name === 'consent') {
      const accountId = details.session?.accountId as string;
      const grant =
        (details.grantId ? await op.Grant.find(details.grantId) : undefined) ??
        new op.Grant({ accountId, clientId: details.params.client_id as string });
      grant.addOIDCScope(details.params.scope ?? 'openid');
      const grantId = await grant.save();
      await op.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    throw new Error(`unexpected prompt ${details.prompt.name}`);
  };

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    signInAs(subject) {
      next = subject;
    },
    configure(redirectUri) {
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
        jwks: { keys: [signingKey] },
        pkce: { required: () => true },
        scopes: ['openid', 'profile', 'email', 'groups'],
        claims: {
          openid: ['sub'],
          profile: ['preferred_username'],
          email: ['email'],
          groups: ['groups'],
        },
        cookies: { keys: ['oidc-provider-test-cookie-key'] },
        features: { devInteractions: { enabled: false } },
        interactions: {
          url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
        },
        async findAccount(_ctx: unknown, sub: string) {
          const account = accounts.get(sub);
          if (!account) return undefined;
          return {
            accountId: sub,
            async claims() {
              return {
                sub,
                preferred_username: account.username,
                ...(account.email && { email: account.email }),
                groups: account.groups,
              };
            },
          };
        },
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
