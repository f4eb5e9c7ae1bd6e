// The archive layer's public API: ArchivalRecord lines, file names, the writers, the
// reader and the CSV view. Depends on src/diag only.
export { encodeMessage, encodeMetadata, encodeRecord, goJsonString } from "./record.ts";
export { formatTime, parseTime, TimeFormatError, GO_ZERO_TIME, GO_ZERO_TIME_MS } from "./time.ts";
export {
  ARCHIVE_SUFFIX, archiveFileName, archivePath, datePath, defaultUuidPrefix, makeUuid, parseArchivePath, parseBootTime, readUuidPrefix,
  type ParsedArchivePath, type UuidPrefixSource,
} from "./naming.ts";
export { ArchiveWriter, type ArchiveFileInfo } from "./writer.ts";
export { ArchiveSet, type ArchiveSetOptions, type ArchiveSetStats, type CloseAllResult } from "./archive-set.ts";
export type { ArchiveCountersSnapshot, ArchiveErrorInfo } from "./counters.ts";
export { DEFAULT_LEVEL } from "./frame-compressor.ts";
export {
  ArchiveFormatError, parseLine, readArchive, readArchiveAll, readArchiveSync,
  type ArchiveContents, type ArchiveEntry, type ArchiveMetadata, type ArchiveSource, type MalformedLine, type MetadataEntry,
  type ReadOptions, type SnapshotEntry,
} from "./reader.ts";
export {
  csvColumnNames, csvField, csvHeader, csvLines, csvRow, mlabAddress,
  type CsvColumnOptions,
} from "./csv.ts";
