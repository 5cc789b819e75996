/** Notifications out: anomalies, incidents and command proposals to webhooks (Alertmanager format or plain JSON). */
export { NotifierConfig, parseNotifier, NotifyFormat, NotifyKind, SEVERITIES, type Severity } from './config.js'
export { notable, matches, compileNotifier, type Notable, type CompiledNotifier } from './filter.js'
export { alertmanager, plainJson, renderBody, signature } from './format.js'
export { deliver, type Delivery } from './deliver.js'
export { NOTIFY_BUCKET, notifyBucketName, openNotifyBucket, listNotifiers, putNotifier, removeNotifier, type StoredNotifier } from './store.js'
export { notifyService, type NotifyServiceOptions } from './service.js'
