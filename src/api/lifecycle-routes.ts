import { MEMBERS, PROJECT_ADMINS, SYSTEM_ADMINS } from './access.js';
import { type ApiRoute, preamble, route } from './route.js';
import {
  CreateImmutabilityRuleBody,
  ImmutabilityRule,
  ImmutabilityRuleList,
  ProjectParams,
  ProjectQuota,
  RuleParams,
  SetQuotaBody,
  StorageUsage,
} from './schemas.js';

const QUOTA_ADMINS = preamble({ tag: 'quotas', gate: 'systemAdmin', access: SYSTEM_ADMINS });
const CHANGING_RULES = "changing a project's immutability rules";
const RULE_CHANGE = preamble({
  task: CHANGING_RULES,
  tag: 'immutability',
  gate: 'authenticated',
  access: PROJECT_ADMINS,
  project: 'project:settings',
});

function quotaOf(row: { limitBytes: number | null; usedBytes: number }) {
  return { limitBytes: row.limitBytes, usedBytes: row.usedBytes };
}

/** What the audit event of an added or removed rule says. */
function ruleDetail(rule: { id: number; repositoryPattern: string; tagPattern: string }) {
  return { id: rule.id, repositoryPattern: rule.repositoryPattern, tagPattern: rule.tagPattern };
}

export const lifecycleRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/projects/{name}/quota',
    operationId: 'getProjectQuota',
    summary: "Read a project's storage quota and usage",
    task: "reading a project's quota",
    tag: 'quotas',
    gate: 'authenticated',
    access: MEMBERS,
    project: 'member',
    params: ProjectParams,
    success: { status: 200, description: 'Its quota and usage', schema: ProjectQuota },
    errors: [404],
    async handler(call) {
      const { name } = call.params;
      return quotaOf(await call.options.lifecycle.quota(name));
    },
  }),
  route({
    method: 'PUT',
    path: '/projects/{name}/quota',
    operationId: 'setProjectQuota',
    summary: "Set or remove a project's storage quota",
    task: "setting a project's quota",
    ...QUOTA_ADMINS,
    params: ProjectParams,
    body: SetQuotaBody,
    success: { status: 200, description: 'Its quota and usage', schema: ProjectQuota },
    errors: [404],
    audit: { action: 'quota.set', resource: (params) => params.name ?? '?' },
    async handler(call) {
      call.auditDetail = { limitBytes: call.body.limitBytes };
      return quotaOf(await call.options.lifecycle.setQuota(call.params.name, call.body.limitBytes));
    },
  }),
  route({
    method: 'GET',
    path: '/usage',
    operationId: 'getStorageUsage',
    summary: 'Storage used in total and per project',
    task: 'reading storage usage',
    ...QUOTA_ADMINS,
    success: { status: 200, description: 'Storage usage', schema: StorageUsage },
    async handler(call) {
      return call.options.lifecycle.usage();
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/immutability',
    operationId: 'listImmutabilityRules',
    summary: "List a project's tag immutability rules",
    task: "reading a project's immutability rules",
    tag: 'immutability',
    gate: 'authenticated',
    access: 'maintainers and project administrators of the project, and system administrators',
    project: 'tags:manage',
    params: ProjectParams,
    success: { status: 200, description: 'Its rules, oldest first', schema: ImmutabilityRuleList },
    errors: [404],
    async handler(call) {
      const { name } = call.params;
      return { items: await call.options.lifecycle.rules(name) };
    },
  }),
  route({
    method: 'POST',
    path: '/projects/{name}/immutability',
    operationId: 'addImmutabilityRule',
    summary: 'Add a tag immutability rule',
    ...RULE_CHANGE,
    params: ProjectParams,
    body: CreateImmutabilityRuleBody,
    success: { status: 201, description: 'The new rule', schema: ImmutabilityRule },
    errors: [404],
    audit: { action: 'immutability.add', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name } = call.params;
      const rule = await call.options.lifecycle.addRule(name, call.body);
      call.auditDetail = ruleDetail(rule);
      return rule;
    },
  }),
  route({
    method: 'DELETE',
    path: '/projects/{name}/immutability/{id}',
    operationId: 'removeImmutabilityRule',
    summary: 'Remove a tag immutability rule',
    ...RULE_CHANGE,
    params: RuleParams,
    success: { status: 204, description: 'Removed' },
    errors: [404],
    audit: { action: 'immutability.remove', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name, id } = call.params;
      const rule = await call.options.lifecycle.removeRule(name, id);
      call.auditDetail = ruleDetail(rule);
    },
  }),
];
