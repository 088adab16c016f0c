export { HLL_DEFAULT_PRECISION, HLL_MAX_PRECISION, HLL_MIN_PRECISION, HllFormatError, HyperLogLog, hllStandardError, LabelTrackers } from './hll.js';
export type { HyperLogLogOptions, LabelTrackerEntry, LabelTrackersOptions } from './hll.js';
export { labelValueHash, SeriesIdHasher } from './series-id.js';
export { SERIES_TABLE_MAX_ENTRIES, SERIES_TABLE_MAX_METRIC_REFS, SeriesTable, SeriesTableFormatError, toSeenSeconds } from './series-table.js';
export type { ExpiredCallback, InsertResult, SeriesTableOptions } from './series-table.js';
