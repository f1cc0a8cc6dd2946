import { projectOf } from '../../auth/index.js';
import { RegistryError, type RegistryPolicy } from '../../registry/index.js';
import type { Webhooks } from './webhooks.js';

type QuotaHooks = Pick<RegistryPolicy, 'admitUpload' | 'admitLink'>;

/** The quota hooks, each refusal also reported as a quota exceeded event. */
export function reportQuotaRefusals(
  policy: QuotaHooks,
  webhooks: Pick<Webhooks, 'quotaExceeded'>,
): QuotaHooks {
  const report = (error: unknown, project: string, repository?: string) => {
    if (error instanceof RegistryError && error.code === 'DENIED') {
      webhooks.quotaExceeded(project, repository, {
        message: error.message,
        ...(error.detail as Record<string, unknown> | undefined),
      });
    }
  };
  const { admitUpload, admitLink } = policy;
  return {
    ...(admitUpload && {
      async admitUpload(repository, bytes, digest) {
        try {
          await admitUpload(repository, bytes, digest);
        } catch (error) {
          report(error, projectOf(repository), repository);
          throw error;
        }
      },
    }),
    ...(admitLink && {
      admitLink(charge) {
        try {
          admitLink(charge);
        } catch (error) {
          report(error, charge.project);
          throw error;
        }
      },
    }),
  };
}
