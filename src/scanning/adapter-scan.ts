import type { ScanSettingsRow } from '../metadata/index.js';
import { harborReportToFindings, ScannerAdapterClient } from './adapter/index.js';
import type { Finding } from './types.js';

/** How long the pull token a plug-in scanner gets lasts: enough for a big image on a slow adapter. */
const TOKEN_SECONDS = 30 * 60;

export interface AdapterScannerOptions {
  /** Berth as the adapter reaches it (scanning.registryUrl, else the address Berth listens on). */
  registryUrl(): string;
  /** `Bearer …` pull access to one repository; undefined when auth is off. */
  authorization(repository: string, seconds: number): Promise<string | undefined>;
}

/**
 * Scans an image through the project's Harbor-compatible scanner adapter (Trivy, Clair…): checks the adapter,
 * hands it a short-lived pull token for the repository, waits for its report and converts it to findings.
 */
export function adapterScanner(options: AdapterScannerOptions) {
  return async (
    settings: ScanSettingsRow,
    image: { repository: string; digest: string; mediaType: string },
    signal: AbortSignal,
  ): Promise<Finding[]> => {
    if (!settings.adapterUrl) throw new Error('the project has no scanner adapter');
    const client = new ScannerAdapterClient({
      url: settings.adapterUrl,
      ...(settings.adapterAuthorization && { authorization: settings.adapterAuthorization }),
    });
    await client.check(signal);
    const report = await client.scan(
      {
        registryUrl: options.registryUrl(),
        registryAuthorization: (await options.authorization(image.repository, TOKEN_SECONDS)) ?? '',
        repository: image.repository,
        digest: image.digest,
        mimeType: image.mediaType,
      },
      { signal },
    );
    return harborReportToFindings(report).findings;
  };
}
