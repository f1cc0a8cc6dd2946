export {
  AnomalyDetector,
  type AnomalyDetectorOptions,
  type AnomalySettings,
} from './anomaly-detector.js';
export {
  ANOMALY_KINDS,
  type Anomaly,
  type AnomalyKind,
  type AnomalyQuery,
  AnomalyStore,
} from './anomaly-store.js';
