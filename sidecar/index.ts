/**
 * The sidecar: Ben's edge agent. Local telemetry in (library calls, or the doors of intake/:
 * NDJSON over a Unix socket / loopback HTTP, OTLP, syslog) → validated, scrubbed with the spine's manifest code, appended to a
 * write-ahead log → drained to JetStream in order, exactly once. Signed commands in on
 * `ben.cmd.<id>` → verified → handler → signed ack on `ben.ack.<id>`. See README.md.
 */
export { createSidecar } from './sidecar.js'
export type { Sidecar, SidecarOptions, SidecarStatus, SidecarLogger, AcceptResult, AcceptRejection, CommandHandler } from './types.js'
export { AcceptReason, SidecarError, SidecarErrorCode, isSidecarError } from './errors.js'
export { parseListen, isLoopback, formatListen, type ListenAddress } from './listen.js'
export { startSidecarDaemon, type DaemonOptions, type RunningDaemon } from './daemon.js'
export { execHandler, execHandlers } from './exec.js'
export { readStatuses, readStatusFile, statusPath, sidecarHome, type StatusFile } from './status.js'
export { frameRecord, parseRecord, type SidecarRecord } from './record.js'
export { MANIFEST_KEY } from './manifest.js'
export { HELLO_COMPONENT, sidecarHello } from './hello.js'
export type { DrainOptions, DrainStats, ReconcileTarget } from './types.js'
export type { CommandStats } from './commands.js'
export { FsyncPolicy, WhenFull, isWalFull, type WalStats } from './wal/index.js'
