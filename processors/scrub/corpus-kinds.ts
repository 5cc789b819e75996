import type { DetectorName } from './detectors.js'
import {
  ALNUM, B64, B64URL, DIGITS, HEX, N, S, UPPER, apiToken, awsKey, awsSecret, card, cardNumber, chars, email, iban, int, ipv4, ipv6, jwt,
  opaque, pad, password, pem, phone, pick, uuid, type Part, type Rng,
} from './corpus-parts.js'

/** The labelled clauses of the generated corpus: positives per detector, and hard negatives. */

type Gen = (rng: Rng) => Part[]

/** Each positive: a clause of text around exactly one labelled secret (the span a detector must mask). */
export const POSITIVES: Readonly<Record<DetectorName, Gen>> = {
  email: (r) => pick(r, [
    (v: string): Part[] => ['login ok for ', S('email', v)],
    (v: string): Part[] => ['sent invoice to <', S('email', v), '>'],
    (v: string): Part[] => ['{"email":"', S('email', v), '","plan":"pro"}'],
    (v: string): Part[] => ['password reset requested by ', S('email', v), '.'],
    (v: string): Part[] => ['from=', S('email', v), ' status=bounced'],
    (v: string): Part[] => ['To: "', S('email', v.toUpperCase()), '"'],
    (v: string): Part[] => ['mailto:', S('email', v), '?subject=reset'],
  ])(email(r)),
  ipv4: (r) => pick(r, [
    (v: string): Part[] => ['connection from ', S('ipv4', v), ' port ', String(int(r, 1024, 65535))],
    (v: string): Part[] => ['upstream ', S('ipv4', v), ':', String(int(r, 80, 9999)), ' timed out'],
    (v: string): Part[] => ['GET http://', S('ipv4', v), '/healthz 200'],
    (v: string): Part[] => ['client_ip=', S('ipv4', v)],
    (v: string): Part[] => ['blocked [', S('ipv4', v), '] after 5 failures'],
    (v: string): Part[] => ['denied for ', S('ipv4', v), '.'],
    (v: string): Part[] => ['X-Forwarded-For: ', S('ipv4', v), ', proxy'],
  ])(ipv4(r)),
  ipv6: (r) => pick(r, [
    (v: string): Part[] => ['connection from ', S('ipv6', v)],
    (v: string): Part[] => ['listening on [', S('ipv6', v), ']:443'],
    (v: string): Part[] => ['src=', S('ipv6', v), ' proto=tcp'],
  ])(ipv6(r)),
  card: (r) => pick(r, [
    (v: string): Part[] => ['charge declined card=', S('card', v)],
    (v: string): Part[] => ['payment method ', S('card', v), ' added'],
    (v: string): Part[] => ['{"pan":"', S('card', v), '","exp":"12/27"}'],
    (v: string): Part[] => ['cc number: ', S('card', v)],
  ])(card(r)),
  iban: (r) => pick(r, [
    (v: string): Part[] => ['payout to ', S('iban', v), ' scheduled'],
    (v: string): Part[] => ['iban=', S('iban', v)],
    (v: string): Part[] => ['SEPA transfer from account ', S('iban', v), ' failed'],
  ])(iban(r)),
  phone: (r) => pick(r, [
    (v: string): Part[] => ['sms sent to ', S('phone', v)],
    (v: string): Part[] => ['callback number ', S('phone', v), ' verified'],
    (v: string): Part[] => ['phone: ', S('phone', v)],
    (): Part[] => ['contact ', S('phone', `+1 (${int(r, 201, 989)}) ${int(r, 200, 999)}-${pad(int(r, 0, 9999), 4)}`)],
    (): Part[] => ['tel=', S('phone', `0${int(r, 20, 89)}${int(r, 1000000, 9999999)}`)],
    (): Part[] => ['mobile_number: ', S('phone', `0${int(r, 150, 179)} ${int(r, 1000000, 9999999)}`)],
  ])(phone(r)),
  jwt: (r) => pick(r, [
    (v: string): Part[] => ['Authorization: Bearer ', S('jwt', v)],
    (v: string): Part[] => ['id_token=', S('jwt', v), '&state=xyz'],
    (v: string): Part[] => ['session cookie ', S('jwt', v), ' expired'],
    (v: string): Part[] => ['GET /callback?access_token=', S('jwt', v), '&expires_in=3600 302'],
  ])(jwt(r)),
  'aws-key': (r) => pick(r, [
    (v: string): Part[] => ['using credentials ', S('aws-key', v), ' for s3'],
    (v: string): Part[] => ['aws_access_key_id=', S('aws-key', v)],
    (v: string): Part[] => ['{"AccessKeyId":"', S('aws-key', v), '"}'],
  ])(awsKey(r)),
  'aws-secret': (r) => pick(r, [
    (v: string): Part[] => ['aws_secret_access_key=', S('aws-secret', v)],
    (v: string): Part[] => ['{"SecretAccessKey": "', S('aws-secret', v), '"}'],
    (v: string): Part[] => ['AWS_SECRET_ACCESS_KEY: ', S('aws-secret', v)],
    (v: string): Part[] => ['secret_key = "', S('aws-secret', v), '"'],
  ])(awsSecret(r)),
  token: (r) => pick(r, [
    (v: string): Part[] => ['git clone with token ', S('token', v)],
    (v: string): Part[] => ['GITHUB_TOKEN=', S('token', v)],
    (v: string): Part[] => ['webhook auth ', S('token', v), ' rejected'],
  ])(apiToken(r)),
  bearer: (r) => pick(r, [
    (v: string): Part[] => ['Authorization: Bearer ', S('bearer', v)],
    (v: string): Part[] => ['header authorization="bearer ', S('bearer', v), '"'],
    (v: string): Part[] => ['upstream rejected BEARER ', S('bearer', v)],
  ])(opaque(r)),
  credential: (r) => pick(r, [
    (v: string): Part[] => ['db connect password=', S('credential', v), ' host=db-1'],
    (v: string): Part[] => ['config {"db_password": "', S('credential', v), '"}'],
    (v: string): Part[] => ['pwd: ', S('credential', v)],
    (v: string): Part[] => ['smtp passwd=', S('credential', v)],
    (): Part[] => ['api_key=', S('credential', chars(r, ALNUM, 32))],
  ])(password(r)),
  pem: (r) => pick(r, [
    (v: string): Part[] => ['loaded key ', S('pem', v)],
    (v: string): Part[] => ['{"private_key":"', S('pem', v), '"}'],
  ])(pem(r)),
}

/** Hard negatives: things that look like secrets and are not. Any detection on them is a false positive. */
export const NEGATIVES: Readonly<Record<string, Gen>> = {
  'order-id': (r) => ['order ', N('order-id', cardNumber(r, pick(r, ['4', '5', '37', '6011']), 16, false)), ' shipped'],
  'order-id-grouped': (r) => ['ref ', N('order-id-grouped', cardNumber(r, '4', 16, false).match(/.{4}/g)!.join('-'))],
  'long-id': (r) => ['trace ', N('long-id', chars(r, DIGITS, 20))],
  'epoch-us': (r) => ['at ', N('epoch-us', `17${chars(r, DIGITS, 14)}`)],
  version: (r) => pick(r, [
    (): Part[] => ['nginx/', N('version', `1.${int(r, 10, 27)}.${int(r, 0, 9)}.${int(r, 1, 9)}`), ' started'],
    (): Part[] => ['version ', N('version', `${int(r, 1, 20)}.${int(r, 0, 9)}.${int(r, 0, 9)}.${int(r, 0, 99)}`)],
    (): Part[] => ['agent v', N('version', `${int(r, 1, 9)}.${int(r, 0, 30)}.${int(r, 0, 9)}.${int(r, 100, 999)}`), ' ready'],
    (): Part[] => ['firmware=', N('version', `${int(r, 1, 5)}.${int(r, 0, 9)}.${int(r, 0, 9)}.${int(r, 0, 9)}`)],
  ])(),
  semver: (r) => ['upgraded rxjs@', N('semver', `${int(r, 1, 9)}.${int(r, 0, 20)}.${int(r, 0, 9)}`)],
  uuid: (r) => ['request_id=', N('uuid', uuid(r))],
  sha1: (r) => ['commit ', N('sha1', chars(r, HEX, 40))],
  sha256: (r) => ['digest sha256:', N('sha256', chars(r, HEX, 64))],
  mac: (r) => ['link up hwaddr ', N('mac', Array.from({ length: 6 }, () => chars(r, HEX, 2)).join(':'))],
  date: (r) => ['backup of ', N('date', `2025-${pad(int(r, 1, 12))}-${pad(int(r, 1, 28))}`), ' done'],
  duration: (r) => ['took ', N('duration', `${int(r, 1, 99999)}ms`), ' bytes=', N('bytes', String(int(r, 1000000, 99999999)))],
  'bad-iban': (r) => ['rejected account ', N('bad-iban', iban(r, false))],
  'base64-no-marker': (r) => ['etag "', N('base64-no-marker', awsSecret(r)), '"'],
  'prose-bearer': (r) => [N('prose-bearer', pick(r, ['bearer token missing from request', 'invalid bearer authentication scheme', 'Bearer realm="api"']))],
  'prose-password': (r) => [N('prose-password', pick(r, ['password reset requested', 'password: changed', 'secret rotation completed', 'token=*** (redacted upstream)']))],
  'cpp-scope': (r) => ['in ', N('cpp-scope', pick(r, ['std::vector<int>::push_back', 'Foo::Bar::baz()', 'tokio::runtime::park']))],
  'clock-time': (r) => ['window ', N('clock-time', `${pad(int(r, 0, 23))}:${pad(int(r, 0, 59))}:${pad(int(r, 0, 59))}`), '-', `${pad(int(r, 0, 23))}:${pad(int(r, 0, 59))}`],
  'pod-name': (r) => ['pod default/', N('pod-name', `api-${chars(r, HEX, 9)}-${chars(r, 'bcdfghjklmnpqrstvwxz2456789', 5)}`), ' Running'],
  'not-jwt': (r) => ['header ', N('not-jwt', `eyJ${chars(r, B64URL, 20)}`), ' only'],
  'short-akia': (r) => ['sku ', N('short-akia', `AKIA${chars(r, UPPER, 6)}`)],
  'hex-address': (r) => ['segfault at 0x', N('hex-address', chars(r, HEX, 12))],
  percent: (r) => ['change +', N('percent', `${int(r, 0, 99)}.${int(r, 0, 9)}%`), ' over 5m'],
  'npm-spec': (r) => ['installed ', N('npm-spec', `@types/node@${int(r, 14, 22)}.${int(r, 0, 19)}.${int(r, 0, 99)}`)],
  'user-agent': (r) => ['ua="', N('user-agent', `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/${int(r, 100, 130)}.0.${int(r, 1000, 6999)}.${int(r, 10, 250)} Safari/537.36`), '"'],
  oid: (r) => ['snmp oid ', N('oid', `1.3.6.1.4.1.${int(r, 1, 40000)}.${int(r, 1, 9)}`)],
  isbn: (r) => ['isbn ', N('isbn', `978-${int(r, 0, 9)}-${int(r, 10, 99)}-${int(r, 100000, 999999)}-${int(r, 0, 9)}`)],
  price: (r) => ['total $', N('price', `${int(r, 1, 999)},${int(r, 100, 999)}.${pad(int(r, 0, 99))}`)],
  'windows-build': (r) => ['os build ', N('windows-build', `10.0.${int(r, 10000, 26000)}.${int(r, 1000, 5000)}`)],
  'git-describe': (r) => ['deployed ', N('git-describe', `v${int(r, 1, 9)}.${int(r, 0, 9)}.${int(r, 0, 9)}-${int(r, 1, 99)}-g${chars(r, HEX, 7)}`)],
  'public-key-b64': (r) => ['{"public_key":"', N('public-key-b64', 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA' + chars(r, B64, 64)), '"}'],
  ssn: (r) => ['tax id ', N('ssn', `${int(r, 100, 899)}-${pad(int(r, 1, 99))}-${pad(int(r, 1, 9999), 4)}`)],
  'zip-code': (r) => ['ship to zip ', N('zip-code', `${int(r, 10000, 99999)}-${int(r, 1000, 9999)}`)],
}
