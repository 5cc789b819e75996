export { Subjects, validatePattern } from './subjects.js'
export { streamSubjects, streamName, kvName, notifyBucketName, NOTIFY_BUCKET, StreamName, Bucket, type TopologyOptions, type StreamLimits } from './topology.js'
export {
  FactPublisher,
  factMsgId,
  factHeaders,
  factHeaderBlock,
  preEncodedHeaders,
  withHeaderLines,
  parsePubAck,
  PublishStatus,
  type PublishOutcome,
  type PublishReport,
  type PublisherOptions,
  type ReadyMessage,
} from './publisher.js'
export {
  consumeFacts,
  PULL_HEARTBEAT_MS,
  DeliveryGapError,
  isDeliveryGap,
  ensureDurable,
  repositionDurable,
  toAsyncIterable,
  ackUpTo,
  type Envelope,
  type RawMessage,
  type FactConsumerOptions,
  type Logger,
} from './consumer.js'
export { decodeMessage } from './decode.js'
export { DeadLetters, type RejectedInput } from './dlq.js'
export { PublishFailure, StreamsError, StreamsErrorCode, isStreamsError } from './errors.js'
export * as metrics from './metrics.js'
export { metricsRegistry, absorbMetrics, type MetricSnapshot } from './metrics.js'
export { followSubjects, type Delivered, type StartAt, type FollowOptions } from './follow.js'

export { subjectMatches, isSubsetOf, overlaps } from './subjects.js'
export type { ConsumerLag } from './lag.js'
export { partitionOf, partitionOfSubject, partitionLabel, WHOLE, type Partition } from './partition.js'
export { openStreamReader, mergeReaders, nextOf, bySeq, byTime, EMPTY_READER, LazyHeaders, type Item, type Reader } from './stream-reader.js'
export { durableObservable, durableIterator, type DurableSpec, type Accept, type StreamMessage } from './durable.js'
export { pullDurable, type Pull, type PulledMessage } from './pull.js'
export {
  StreamAdmin,
  lastSeq,
  storedMessages,
  storedMsgIds,
  isConsumerNotFound,
  isJetStreamNotEnabled,
  type ConsumerInfo,
  type StreamInfo,
  type StoredHeaders,
  type StoredMessage,
} from './admin.js'
export { publishHello } from './hello.js'
export { openBucket, createBucket, putAgainOnReconnect, KvWatchInclude, type KV, type KvEntry, type KvWatch } from './kv.js'
export { kvLatest, type KvLatest } from './kv-latest.js'
