// Shared by the console's browser tests: Debian's chromium launched headless through playwright-core, and what
// on a page fails a test (console errors, page errors, failed requests, HTTP error answers).
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's chromium, headless, without its background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface PageProblemRules {
  /** Only requests to addresses under this origin count (an identity provider's, say, are not Berth's). */
  origin?: string;
  /** A request cancelled by leaving the page (net::ERR_ABORTED) is navigation, not a failure. */
  abortIsNavigation?: boolean;
  /** A "Failed to load resource" console error is left to the response it is about (judged with its address). */
  loadErrorsAsResponses?: boolean;
}

/** Pushes onto `problems` each console error, page error, failed request and HTTP error answer of `page`. */
export function collectPageProblems(page: Page, problems: string[], rules: PageProblemRules = {}): void {
  const counts = (url: string) => rules.origin === undefined || url.startsWith(rules.origin);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (rules.loadErrorsAsResponses && message.text().startsWith('Failed to load resource')) return;
    problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    if (!counts(request.url())) return;
    if (rules.abortIsNavigation && request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && counts(response.url()))
      problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
}
