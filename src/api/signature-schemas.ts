import { z } from 'zod';
import { SIGNATURE_MODES, TRUST_NAME } from '../signatures/trust/trust-validation.js';
import { named, ProjectName } from './schemas.js';

/** Trust configuration, the signature policy and artifact signature status (see schemas.ts for how they are used). */

const TrustName = z
  .string()
  .regex(TRUST_NAME, "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
const Pem = z
  .string()
  .min(1)
  .max(64 * 1024);

export const TrustedKey = named(
  'TrustedKey',
  'A public key the project trusts for cosign / sigstore / skopeo signatures.',
  z.object({
    id: z.number().int(),
    name: z.string(),
    publicKeyPem: z.string().describe('PEM SubjectPublicKeyInfo, as stored (re-encoded)'),
    fingerprint: z.string().describe('SHA256:<hex> of the DER SubjectPublicKeyInfo'),
    createdAt: z.number().int(),
  }),
);

export const NotationTrustStore = named(
  'NotationTrustStore',
  'A Notary Project trust store: root CA certificates, and the identities trusted to sign through them.',
  z.object({
    id: z.number().int(),
    name: z.string(),
    rootCertificatesPem: z.array(z.string()),
    trustedIdentities: z.array(z.string()),
    certificates: z.array(z.object({ subject: z.string(), notAfter: z.string(), fingerprint: z.string() })),
    createdAt: z.number().int(),
  }),
);

export const SignaturePolicy = named(
  'SignaturePolicy',
  "A project's `signatures.required`: off; warn (unsigned artifacts are served, each pull audited); enforce " +
    '(manifest and blob GETs of artifacts without a valid signature from a trusted key or identity are ' +
    'refused with DENIED). Signatures, SBOMs and other referrers stay pullable.',
  z.object({
    required: z.enum(SIGNATURE_MODES),
    repositories: z
      .array(z.string())
      .nullable()
      .describe('repository globs (whole names; `*`, `?`, `**`) the policy covers; null: every repository'),
    updatedAt: z.number().int().nullable().describe('null: never set'),
  }),
);

export const ProjectTrust = named(
  'ProjectTrust',
  'Everything a project trusts, and its signature policy. `version` changes with every change.',
  z.object({
    project: z.string(),
    version: z.number().int(),
    policy: SignaturePolicy,
    keys: z.array(TrustedKey),
    notation: z.array(NotationTrustStore),
  }),
);

export const AddTrustedKeyBody = named(
  'AddTrustedKey',
  'A public key to trust (PEM: EC P-256/P-384/P-521, Ed25519 or RSA ≥ 2048 bits); names are unique per project.',
  z.strictObject({ name: TrustName, publicKeyPem: Pem }),
);

export const AddNotationTrustStoreBody = named(
  'AddNotationTrustStore',
  'A Notary Project trust store: root CA certificates (PEM; an entry may hold several) and trusted identities ' +
    '(`*`, or `x509.subject: C=US, ST=WA, O=Acme, CN=ci`).',
  z.strictObject({
    name: TrustName,
    rootCertificatesPem: z.array(Pem).min(1).max(20),
    trustedIdentities: z.array(z.string().min(1).max(1024)).min(1).max(50),
  }),
);

export const SetSignaturePolicyBody = named(
  'SetSignaturePolicy',
  "Sets a project's signature policy; without `repositories` (or null) it covers every repository.",
  z.strictObject({
    required: z.enum(SIGNATURE_MODES),
    repositories: z.array(z.string().min(1).max(255)).min(1).max(50).nullable().optional(),
  }),
);

const SignatureResult = z.object({
  format: z.enum(['cosign', 'sigstore-bundle', 'notation-jws', 'notation-cose']),
  signatureDigest: z.string(),
  status: z.enum(['verified', 'untrusted', 'invalid']),
  signer: z.string().optional(),
  reason: z.string().optional(),
});

export const ArtifactSignatures = named(
  'ArtifactSignatures',
  "An artifact (manifest) with its signatures' status and what the project's pull policy makes of it.",
  z.object({
    repository: z.string(),
    digest: z.string(),
    mediaType: z.string(),
    size: z.number().int(),
    signature: z.object({
      status: z
        .enum(['verified', 'untrusted', 'invalid', 'unsigned'])
        .describe(
          'verified: by a trusted key or identity; untrusted: signed by something else; invalid: broken',
        ),
      verifiedBy: z.array(z.string()),
      signatures: z.array(SignatureResult),
    }),
    policy: z.object({
      mode: z.enum(SIGNATURE_MODES),
      covers: z.boolean(),
      pullable: z.boolean(),
      reason: z.string(),
    }),
  }),
);

export const TrustItemParams = z.object({
  name: ProjectName,
  id: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be an id')
    .transform(Number),
});

export const ArtifactParams = z.object({
  name: ProjectName,
  repo: z
    .string()
    .min(1)
    .max(255)
    .describe('the repository within the project (`app` for team/app; `a%2Fb` for team/a/b)'),
  reference: z.string().min(1).max(200).describe('a tag or a digest'),
});
