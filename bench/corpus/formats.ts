import { ALNUM, B64STD, B64URLSAFE, BASE32, DIGIT, HEXL, LOWER, LOWNUM, UPNUM, UPPER, base62, between, crc32Plain, draw, hex, one, uuid4, type Rng } from './prng.js'

/**
 * Secret formats as their providers document them (token prefixes, lengths, alphabets), one
 * generator each. `word` is how a config or log would name the provider (`adafruit` →
 * `adafruit_token`); `distinctive` says the token is recognisable alone (a documented prefix or
 * structure), so it must be caught even bare in a sentence.
 */
export interface SecretFormat {
  readonly id: string
  readonly word: string
  readonly distinctive: boolean
  readonly make: (r: Rng) => string
  /** The part of the generated text that is secret (webhook URLs and connection strings carry public parts). */
  readonly secretOf?: (text: string) => string
}

const f = (id: string, word: string, distinctive: boolean, make: (r: Rng) => string, secretOf?: (text: string) => string): SecretFormat =>
  secretOf ? { id, word, distinctive, make, secretOf } : { id, word, distinctive, make }
/** After the last occurrence of `marker`. */
const after =
  (marker: string) =>
  (t: string): string =>
    t.slice(t.lastIndexOf(marker) + marker.length)
const pre =
  (prefix: string, alphabet: string, n: number) =>
  (r: Rng): string =>
    prefix + draw(r, alphabet, n)
/** GitHub/npm documented layout: 30 random base62 characters and a 6-character base62 CRC-32 of them. */
const checksummed =
  (prefix: string) =>
  (r: Rng): string => {
    const body = draw(r, ALNUM, 30)
    return prefix + body + base62(crc32Plain(body), 6)
  }

export const FORMATS: readonly SecretFormat[] = [
  // source control and CI
  f('github-classic-pat', 'github', true, checksummed('ghp_')),
  f('github-oauth', 'github', true, checksummed('gho_')),
  f('github-app-installation', 'github', true, checksummed('ghs_')),
  f('github-app-user', 'github', true, checksummed('ghu_')),
  f('github-refresh', 'github', true, checksummed('ghr_')),
  f('github-random-pat', 'github', true, pre('ghp_', ALNUM, 36)),
  f('github-fine-grained', 'github', true, (r) => `github_pat_${draw(r, ALNUM, 22)}_${draw(r, ALNUM, 59)}`),
  f('gitlab-pat', 'gitlab', true, pre('glpat-', ALNUM + '_-', 20)),
  f('gitlab-pat-routable', 'gitlab', true, (r) => `glpat-${draw(r, B64URLSAFE, 27)}.01.${draw(r, LOWNUM, 9)}`),
  f('gitlab-deploy', 'gitlab', true, pre('gldt-', ALNUM, 20)),
  f('gitlab-runner-auth', 'gitlab', true, pre('glrt-', ALNUM + '_-', 20)),
  f('gitlab-runner-registration', 'gitlab', true, pre('GR1348941', ALNUM + '_-', 20)),
  f('gitlab-ci-job', 'gitlab', true, (r) => `glcbt-${draw(r, LOWNUM, 2)}_${draw(r, ALNUM + '_-', 20)}`),
  f('gitlab-trigger', 'gitlab', true, pre('glptt-', HEXL, 40)),
  f('gitlab-oauth-app', 'gitlab', true, pre('gloas-', LOWNUM, 64)),
  f('gitlab-agent', 'gitlab', true, pre('glagent-', ALNUM + '_-', 50)),
  f('gitlab-feed', 'gitlab', true, pre('glft-', ALNUM + '_-', 20)),
  f('bitbucket-app-password', 'bitbucket', true, pre('ATBB', ALNUM, 32)),
  f('circleci-personal', 'circleci', true, (r) => `CCIPAT_${draw(r, ALNUM, 22)}_${hex(r, 40)}`),
  f('buildkite-agent', 'buildkite', true, pre('bkua_', HEXL, 40)),
  f('sonar-user', 'sonar', true, pre('squ_', HEXL, 40)),
  // chat
  f('slack-bot', 'slack', true, (r) => `xoxb-${draw(r, DIGIT, 12)}-${draw(r, DIGIT, 13)}-${draw(r, ALNUM, 24)}`),
  f('slack-user', 'slack', true, (r) => `xoxp-${draw(r, DIGIT, 12)}-${draw(r, DIGIT, 12)}-${draw(r, DIGIT, 13)}-${hex(r, 32)}`),
  f('slack-app-level', 'slack', true, (r) => `xapp-1-A${draw(r, UPNUM, 10)}-${draw(r, DIGIT, 13)}-${hex(r, 64)}`),
  f('slack-config-refresh', 'slack', true, (r) => `xoxe-1-${draw(r, UPNUM, 146)}`),
  f('slack-incoming-webhook', 'slack', true, (r) => `https://hooks.slack.com/services/T${draw(r, UPNUM, 8)}/B${draw(r, UPNUM, 10)}/${draw(r, ALNUM, 24)}`, after('/services/')),
  f('discord-webhook', 'discord', true, (r) => `https://discord.com/api/webhooks/${draw(r, DIGIT, 18)}/${draw(r, B64URLSAFE, 68)}`, after('/webhooks/')),
  f('telegram-bot', 'telegram', true, (r) => `${between(r, 100000000, 9999999999)}:AA${draw(r, B64URLSAFE, 33)}`),
  f(
    'teams-webhook',
    'teams',
    true,
    (r) => `https://contoso.webhook.office.com/webhookb2/${uuid4(r)}@${uuid4(r)}/IncomingWebhook/${hex(r, 32)}/${uuid4(r)}`,
    after('/IncomingWebhook/'),
  ),
  // payments
  f('stripe-live-secret', 'stripe', true, pre('sk_live_', ALNUM, 24)),
  f('stripe-test-secret', 'stripe', true, pre('sk_test_', ALNUM, 99)),
  f('stripe-restricted', 'stripe', true, pre('rk_live_', ALNUM, 99)),
  f('stripe-webhook', 'stripe', true, pre('whsec_', ALNUM, 32)),
  f('square-access', 'square', true, pre('sq0atp-', B64URLSAFE, 22)),
  f('square-oauth-secret', 'square', true, pre('sq0csp-', B64URLSAFE, 43)),
  f('shopify-admin', 'shopify', true, pre('shpat_', HEXL, 32)),
  f('shopify-shared', 'shopify', true, pre('shpss_', HEXL, 32)),
  f('flutterwave-secret', 'flutterwave', true, (r) => `FLWSECK_TEST-${draw(r, 'abcdefgh0123456789', 32)}-X`),
  f('razorpay', 'razorpay', true, pre('rzp_live_', ALNUM, 14)),
  f('braintree', 'braintree', true, (r) => `access_token$production$${draw(r, LOWNUM, 16)}$${hex(r, 32)}`),
  // AI
  f('openai-project', 'openai', true, (r) => `sk-proj-${draw(r, B64URLSAFE, 74)}T3BlbkFJ${draw(r, B64URLSAFE, 74)}`),
  f('openai-service-account', 'openai', true, (r) => `sk-svcacct-${draw(r, B64URLSAFE, 60)}T3BlbkFJ${draw(r, B64URLSAFE, 60)}`),
  f('openai-legacy', 'openai', true, (r) => `sk-${draw(r, ALNUM, 20)}T3BlbkFJ${draw(r, ALNUM, 20)}`),
  f('anthropic', 'anthropic', true, (r) => `sk-ant-api03-${draw(r, B64URLSAFE, 93)}AA`),
  f('anthropic-admin', 'anthropic', true, (r) => `sk-ant-admin01-${draw(r, B64URLSAFE, 93)}AA`),
  f('huggingface', 'huggingface', true, pre('hf_', LOWER + UPPER, 34)),
  f('groq', 'groq', true, pre('gsk_', ALNUM, 52)),
  f('perplexity', 'perplexity', true, pre('pplx-', ALNUM, 48)),
  f('replicate', 'replicate', true, pre('r8_', ALNUM, 37)),
  f('xai', 'xai', true, pre('xai-', ALNUM, 80)),
  f('langsmith', 'langsmith', true, (r) => `lsv2_pt_${hex(r, 32)}_${hex(r, 10)}`),
  f('pinecone', 'pinecone', true, (r) => `pcsk_${draw(r, ALNUM, 5)}_${draw(r, ALNUM, 60)}`),
  f('openrouter', 'openrouter', true, pre('sk-or-v1-', HEXL, 64)),
  // cloud
  f('aws-access-key-id', 'aws', true, pre('AKIA', UPPER + '234567', 16)),
  f('aws-sts-key-id', 'aws', true, pre('ASIA', UPPER + '234567', 16)),
  f('google-api-key', 'google', true, pre('AIza', B64URLSAFE, 35)),
  f('google-oauth-secret', 'google', true, pre('GOCSPX-', B64URLSAFE, 28)),
  f('google-access-token', 'google', true, pre('ya29.', B64URLSAFE, 120)),
  f('azure-ad-client-secret', 'azure', true, (r) => `${draw(r, ALNUM, 3)}${between(r, 7, 8)}Q~${draw(r, ALNUM + '_~.-', 34)}`),
  f(
    'azure-storage-connection',
    'azure',
    true,
    (r) => `DefaultEndpointsProtocol=https;AccountName=${draw(r, LOWNUM, 10)};AccountKey=${draw(r, B64STD, 86)}==;EndpointSuffix=core.windows.net`,
    (t) => t.slice(t.indexOf('AccountKey=') + 11, t.indexOf(';EndpointSuffix')),
  ),
  f(
    'azure-sas-url',
    'azure',
    true,
    (r) => `https://${draw(r, LOWNUM, 8)}.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&sig=${draw(r, ALNUM, 43)}%3D`,
    after('&sig='),
  ),
  f('digitalocean-pat', 'digitalocean', true, pre('dop_v1_', HEXL, 64)),
  f('digitalocean-oauth', 'digitalocean', true, pre('doo_v1_', HEXL, 64)),
  f('alibaba-key-id', 'alibaba', true, pre('LTAI', ALNUM, 20)),
  f('databricks', 'databricks', true, pre('dapi', HEXL, 32)),
  f('vault-service', 'vault', true, pre('hvs.', B64URLSAFE, 90)),
  f('vault-batch', 'vault', true, pre('hvb.', B64URLSAFE, 138)),
  f('terraform-cloud', 'terraform', true, (r) => `${draw(r, ALNUM, 14)}.atlasv1.${draw(r, ALNUM + '_-', 67)}`),
  f('pulumi', 'pulumi', true, pre('pul-', HEXL, 40)),
  f('doppler-personal', 'doppler', true, pre('dp.pt.', ALNUM, 43)),
  f('doppler-service', 'doppler', true, pre('dp.st.', ALNUM, 43)),
  f('flyio', 'fly', true, pre('fo1_', B64URLSAFE, 43)),
  f('netlify', 'netlify', true, pre('nfp_', ALNUM, 36)),
  f('supabase', 'supabase', true, pre('sbp_', HEXL, 40)),
  f('planetscale', 'planetscale', true, pre('pscale_tkn_', ALNUM + '_', 43)),
  f('heroku-v2', 'heroku', true, (r) => `HRKU-AA${draw(r, B64URLSAFE, 58)}`),
  f('cloudflare-origin-ca', 'cloudflare', true, (r) => `v1.0-${hex(r, 24)}-${hex(r, 146)}`),
  f('dynatrace', 'dynatrace', true, (r) => `dt0c01.${draw(r, UPNUM, 24)}.${draw(r, UPNUM, 64)}`),
  f('tailscale', 'tailscale', true, (r) => `tskey-auth-k${draw(r, ALNUM, 10)}CNTRL-${draw(r, ALNUM, 32)}`),
  // package registries
  f('npm', 'npm', true, checksummed('npm_')),
  f('pypi', 'pypi', true, (r) => `pypi-AgEIcHlwaS5vcmc${draw(r, B64URLSAFE, 70)}`),
  f('rubygems', 'rubygems', true, pre('rubygems_', HEXL, 48)),
  f('nuget', 'nuget', true, pre('oy2', LOWNUM, 43)),
  f('dockerhub', 'docker', true, pre('dckr_pat_', B64URLSAFE, 27)),
  f('clojars', 'clojars', true, pre('CLOJARS_', LOWNUM, 60)),
  f('artifactory', 'artifactory', true, pre('AKCp', ALNUM, 69)),
  // observability
  f('grafana-cloud', 'grafana', true, (r) => `glc_${draw(r, ALNUM, 60)}==`),
  f('grafana-service-account', 'grafana', true, (r) => `glsa_${draw(r, ALNUM, 32)}_${hex(r, 8)}`),
  f('newrelic-user', 'newrelic', true, pre('NRAK-', UPNUM, 27)),
  f('newrelic-license', 'newrelic', true, (r) => `${hex(r, 36)}NRAL`),
  f('sentry-org', 'sentry', true, (r) => `sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_${draw(r, B64URLSAFE, 43)}`),
  f('sentry-user', 'sentry', true, pre('sntryu_', HEXL, 64)),
  f('honeycomb', 'honeycomb', true, pre('hcaik_', LOWNUM, 58)),
  // SaaS
  f('sendgrid', 'sendgrid', true, (r) => `SG.${draw(r, B64URLSAFE, 22)}.${draw(r, B64URLSAFE, 43)}`),
  f('mailgun', 'mailgun', true, pre('key-', HEXL, 32)),
  f('mailchimp', 'mailchimp', true, (r) => `${hex(r, 32)}-us${between(r, 1, 21)}`),
  f('brevo', 'brevo', true, (r) => `xkeysib-${hex(r, 64)}-${draw(r, ALNUM, 16)}`),
  f('twilio-api-key', 'twilio', true, pre('SK', HEXL, 32)),
  f('notion', 'notion', true, (r) => `ntn_${draw(r, DIGIT, 11)}${draw(r, ALNUM, 35)}`),
  f('notion-legacy', 'notion', true, pre('secret_', ALNUM, 43)),
  f('linear', 'linear', true, pre('lin_api_', ALNUM, 40)),
  f('postman', 'postman', true, (r) => `PMAK-${hex(r, 24)}-${hex(r, 34)}`),
  f('atlassian', 'atlassian', true, (r) => `ATATT3xFfGF0${draw(r, B64URLSAFE, 170)}=${hex(r, 8).toUpperCase()}`),
  f('figma', 'figma', true, (r) => `figd_${draw(r, B64URLSAFE, 40)}`),
  f('airtable-pat', 'airtable', true, (r) => `pat${draw(r, ALNUM, 14)}.${hex(r, 64)}`),
  f('sourcegraph', 'sourcegraph', true, (r) => `sgp_${hex(r, 16)}_${hex(r, 40)}`),
  f('typeform', 'typeform', true, pre('tfp_', ALNUM + '_', 59)),
  f('contentful', 'contentful', true, pre('CFPAT-', B64URLSAFE, 43)),
  f('easypost', 'easypost', true, pre('EZAK', ALNUM, 54)),
  f('shippo', 'shippo', true, pre('shippo_live_', HEXL, 40)),
  f('readme', 'readme', true, pre('rdme_', LOWNUM, 70)),
  f('age', 'age', true, (r) => `AGE-SECRET-KEY-1${draw(r, 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58)}`),
  f('onepassword', 'onepassword', true, (r) => `A3-${draw(r, UPNUM, 6)}-${draw(r, UPNUM, 11)}-${draw(r, UPNUM, 5)}-${draw(r, UPNUM, 5)}-${draw(r, UPNUM, 5)}`),
  f('facebook-user-token', 'facebook', true, (r) => `EAACEdEose0cBA${draw(r, ALNUM, 120)}`),
  f('jwt', 'session', true, (r) => {
    const b = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
    return `${b({ alg: one(r, ['HS256', 'RS256']), typ: 'JWT' })}.${b({ sub: hex(r, 8), iat: between(r, 1.6e9, 1.8e9) })}.${draw(r, B64URLSAFE, 43)}`
  }),
  // no prefix of their own: recognisable only next to the provider's name
  f('datadog-api', 'datadog', false, (r) => hex(r, 32)),
  f('datadog-app', 'datadog', false, (r) => hex(r, 40)),
  f('heroku-legacy', 'heroku', false, uuid4),
  f('adafruit', 'adafruit', false, (r) => draw(r, ALNUM + '_-', 32)),
  f('algolia', 'algolia', false, (r) => hex(r, 32)),
  f('twilio-auth', 'twilio', false, (r) => hex(r, 32)),
  f('okta', 'okta', false, (r) => `00${draw(r, B64URLSAFE, 40)}`),
  f('trello', 'trello', false, (r) => hex(r, 32)),
  f('snyk', 'snyk', false, uuid4),
  f('zendesk', 'zendesk', false, (r) => draw(r, LOWNUM, 40)),
  f('aws-secret-access-key', 'aws', false, (r) => draw(r, B64STD, 40)),
  f('azure-devops', 'azure', false, (r) => draw(r, BASE32, 52)),
  f('etsy', 'etsy', false, (r) => draw(r, LOWNUM, 24)),
  f('finnhub', 'finnhub', false, (r) => draw(r, LOWNUM, 20)),
  f('cloudflare-api', 'cloudflare', false, (r) => draw(r, ALNUM + '_-', 40)),
  f('mapbox', 'mapbox', false, (r) => `sk.eyJ1Ijoi${draw(r, ALNUM, 20)}.${draw(r, B64URLSAFE, 22)}`),
]
