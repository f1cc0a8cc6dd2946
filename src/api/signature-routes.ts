import { MEMBERS, PROJECT_ADMINS } from './access.js';
import { inRepository } from './repository-path.js';
import { type ApiRoute, field, preamble, route } from './route.js';
import { ProjectParams } from './schemas.js';
import {
  AddNotationTrustStoreBody,
  AddTrustedKeyBody,
  ArtifactParams,
  ArtifactSignatures,
  NotationTrustStore,
  ProjectTrust,
  SetSignaturePolicyBody,
  SignaturePolicy,
  TrustedKey,
  TrustItemParams,
} from './signature-schemas.js';

const CHANGE = "changing a project's trust";
const TRUST_CHANGE = preamble({
  task: CHANGE,
  tag: 'signatures',
  gate: 'authenticated',
  access: PROJECT_ADMINS,
  project: 'project:settings',
});

export const signatureRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/projects/{name}/trust',
    operationId: 'getProjectTrust',
    summary: "Read a project's trusted keys, notation trust stores and signature policy",
    task: "reading a project's trust",
    tag: 'signatures',
    gate: 'authenticated',
    access: MEMBERS,
    project: 'member',
    params: ProjectParams,
    success: { status: 200, description: 'Its trust and policy', schema: ProjectTrust },
    errors: [404],
    async handler(call) {
      const { name } = call.params;
      return call.options.signatures.view(name);
    },
  }),
  route({
    method: 'POST',
    path: '/projects/{name}/trust/keys',
    operationId: 'addTrustedKey',
    summary: 'Trust a public key for cosign / sigstore / skopeo signatures',
    ...TRUST_CHANGE,
    params: ProjectParams,
    body: AddTrustedKeyBody,
    success: { status: 201, description: 'The key, as stored', schema: TrustedKey },
    errors: [404, 409],
    audit: {
      action: 'trust.key.add',
      resource: (params, body) => `${params.name ?? '?'}:key:${field(body, 'name')}`,
    },
    async handler(call) {
      const { name } = call.params;
      const key = await call.options.signatures.addKey(name, call.body);
      call.auditDetail = { id: key.id, name: key.name, fingerprint: key.fingerprint };
      return key;
    },
  }),
  route({
    method: 'DELETE',
    path: '/projects/{name}/trust/keys/{id}',
    operationId: 'removeTrustedKey',
    summary: 'Stop trusting a key (pulls it alone allowed are refused from the next request on)',
    ...TRUST_CHANGE,
    params: TrustItemParams,
    success: { status: 204, description: 'Removed' },
    errors: [404],
    audit: {
      action: 'trust.key.remove',
      resource: (params) => `${params.name ?? '?'}:key:${params.id ?? '?'}`,
    },
    async handler(call) {
      const { name, id } = call.params;
      const key = await call.options.signatures.removeKey(name, id);
      call.auditDetail = { id: key.id, name: key.name, fingerprint: key.fingerprint };
    },
  }),
  route({
    method: 'POST',
    path: '/projects/{name}/trust/notation',
    operationId: 'addNotationTrustStore',
    summary: 'Trust Notary Project signatures chaining to these root certificates, by these identities',
    ...TRUST_CHANGE,
    params: ProjectParams,
    body: AddNotationTrustStoreBody,
    success: { status: 201, description: 'The trust store, as stored', schema: NotationTrustStore },
    errors: [404, 409],
    audit: {
      action: 'trust.notation.add',
      resource: (params, body) => `${params.name ?? '?'}:notation:${field(body, 'name')}`,
    },
    async handler(call) {
      const { name } = call.params;
      const store = await call.options.signatures.addNotation(name, call.body);
      call.auditDetail = {
        id: store.id,
        name: store.name,
        certificates: store.certificates.map((c) => c.subject),
        trustedIdentities: store.trustedIdentities,
      };
      return store;
    },
  }),
  route({
    method: 'DELETE',
    path: '/projects/{name}/trust/notation/{id}',
    operationId: 'removeNotationTrustStore',
    summary: 'Stop trusting a notation trust store',
    ...TRUST_CHANGE,
    params: TrustItemParams,
    success: { status: 204, description: 'Removed' },
    errors: [404],
    audit: {
      action: 'trust.notation.remove',
      resource: (params) => `${params.name ?? '?'}:notation:${params.id ?? '?'}`,
    },
    async handler(call) {
      const { name, id } = call.params;
      const store = await call.options.signatures.removeNotation(name, id);
      call.auditDetail = { id: store.id, name: store.name };
    },
  }),
  route({
    method: 'PUT',
    path: '/projects/{name}/trust/policy',
    operationId: 'setSignaturePolicy',
    summary:
      "Set a project's signatures.required policy (off, warn, enforce), optionally for some repositories",
    ...TRUST_CHANGE,
    params: ProjectParams,
    body: SetSignaturePolicyBody,
    success: { status: 200, description: 'The policy now in force', schema: SignaturePolicy },
    errors: [404],
    audit: { action: 'signatures.policy', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name } = call.params;
      const policy = await call.options.signatures.setPolicy(name, {
        required: call.body.required,
        repositories: call.body.repositories ?? null,
      });
      call.auditDetail = { required: policy.required, repositories: policy.repositories };
      return policy;
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/repositories/{repo}/artifacts/{reference}',
    operationId: 'getArtifact',
    summary: 'An artifact (by tag or digest) with the status of its signatures and the pull policy’s answer',
    task: 'reading an artifact',
    tag: 'signatures',
    gate: 'public',
    access: 'whoever may pull from the project',
    project: 'pull',
    params: ArtifactParams,
    success: { status: 200, description: 'The artifact and its signatures', schema: ArtifactSignatures },
    errors: [404],
    async handler(call) {
      const { name, repo, reference } = call.params;
      return inRepository(name, repo, (repository) =>
        call.options.signatures.artifact(repository, reference),
      );
    },
  }),
];
