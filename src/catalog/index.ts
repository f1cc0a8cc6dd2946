export type { ArtifactDetail, ArtifactSummary } from './catalog.js';
export { Catalog } from './catalog.js';
export type { RepositorySummary } from './catalog-store.js';
