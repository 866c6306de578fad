/**
 * The one configuration of the bridge. Every section has defaults except the two that name
 * secrets (`bitrix`, `pbx`), so a file only says what differs, and the defaults are the demo
 * office: a call to an extension rings it; line +74950000001 "Sales" sends known callers to their
 * responsible manager and the rest to a simultaneous queue 101, 102, 103; line +74950000002
 * "Support" rings 101 → 102 → 103 for 5 s each; unknown inbound callers create a lead.
 *
 * Objects are strict: an unknown key is a typo until proven otherwise, and a typo in a
 * configuration otherwise silently means "the default".
 *
 * Every key has a `.describe()` text: `docs/configuration.md` is generated from them
 * (`npm run docs:config`), and editors show them through the JSON Schema (`b24-bridge config schema`).
 */
import { pbxKinds } from '../pbx/types.ts';
import { z } from 'zod';
import { extension, httpUrl, id, name, phone, port, seconds, secret, token, userId } from './fields.ts';

const strategy = z
  .enum(['simultaneous', 'sequential'], { error: 'expected "simultaneous" or "sequential"' })
  .describe(
    'simultaneous: every free member sees the card and rings at once, the first to answer takes the call; sequential: one free member after another, in the order listed.',
  );

export const queueSchema = z
  .strictObject({
    members: z
      .array(extension, { error: 'expected a list of extensions, like ["101", "102"]' })
      .min(1, { error: 'expected at least one member' })
      .describe(
        'The extensions of the queue, in the order a sequential queue rings them. Only members who are not on another call take part.',
      ),
    strategy: strategy.default('simultaneous'),
    memberTimeoutSec: seconds(3600)
      .default(20)
      .describe(
        'Seconds a sequential queue rings each member, or a simultaneous one rings all of them, before the next step.',
      ),
    extension: extension
      .optional()
      .describe(
        "The PBX's own ring group for this queue, if it has one: a call that was moved to a responsible manager who did not answer is given back to it (without it, the bridge rings the free members itself, one transfer at a time).",
      ),
  })
  .superRefine((queue, ctx) => {
    queue.members.forEach((member, index) => {
      if (queue.members.indexOf(member) !== index)
        ctx.addIssue({
          code: 'custom',
          path: ['members', index],
          message: 'this extension is already a member',
        });
    });
  })
  .describe('A queue: the users who answer this line, rung together or in turn.');

const leadCreation = z
  .enum(['all', 'inbound', 'outbound', 'none'], { error: 'expected "all", "inbound", "outbound" or "none"' })
  .default('inbound')
  .describe(
    "Which calls from a number the CRM does not know create a lead (Bitrix24's CRM_CREATE): inbound ones, outbound ones, all, or none.",
  );

const routingSchema = z
  .discriminatedUnion(
    'kind',
    [
      z
        .strictObject({
          kind: z.literal('direct').describe('Ring one extension.'),
          extension: extension
            .optional()
            .describe('Ring this extension instead of the number dialled (a reception phone, say).'),
          timeoutSec: seconds(3600)
            .optional()
            .describe('Seconds the extension rings; without it, engine.ringTimeoutSec.'),
        })
        .describe('Direct: the call rings one extension, the one dialled unless another is named.'),
      z
        .strictObject({ kind: z.literal('queue').describe('Ring a queue.'), queue: queueSchema })
        .describe('Queue: the call rings the free members of a queue, at once or in turn.'),
      z
        .strictObject({
          kind: z.literal('responsible').describe("The CRM's responsible manager first, then a queue."),
          responsibleTimeoutSec: seconds(3600)
            .default(20)
            .describe('Seconds the responsible manager rings before the call goes to the queue.'),
          then: queueSchema.describe(
            'The queue that takes the call when the caller is not known, has no free manager, or the manager does not answer.',
          ),
        })
        .describe(
          'Responsible manager: a caller the CRM knows goes to the manager responsible for their record (ASSIGNED_BY_ID), the others to a queue.',
        ),
    ],
    { error: 'expected kind "direct", "queue" or "responsible"' },
  )
  .describe(
    'How the calls of this line are routed: to one extension, a queue, or the responsible manager first.',
  );

const flag = z.boolean({ error: 'expected true or false' });

const lineRules = {
  routing: routingSchema,
  leadCreation,
  crmSource: name('expected a CRM source id, like "CALL"', 50)
    .optional()
    .describe('The CRM source (SOURCE_ID) of the leads this line creates, like "CALL".'),
  missedCallUserId: userId
    .optional()
    .describe('The Bitrix24 user a missed call of this line is logged to; without it, the last member rung.'),
  logUnrungCalls: flag
    .default(true)
    .describe(
      'Log calls that ended before any phone rang (a busy extension, every queue member busy, the ' +
        'caller hanging up in the IVR or while waiting): registered without a card and finished as ' +
        'missed (busy: 486). false: such calls of this line are not sent to Bitrix24.',
    ),
};

export const lineSchema = z
  .strictObject({
    id: id.describe(
      "The line's stable id (letters, digits, - and _), kept with each call so it keeps its line's rules across restarts.",
    ),
    name: name('expected a name for people, like "Sales"')
      .optional()
      .describe('A name for people: the admin UI and the logs.'),
    number: phone
      .optional()
      .describe(
        "The line's number: LINE_NUMBER in Bitrix24 (registered with telephony.externalLine.add); a call the PBX reports on this line or to this number belongs here.",
      ),
    calledNumbers: z
      .array(phone, { error: 'expected a list of phone numbers' })
      .optional()
      .describe('More numbers callers dial (DIDs) that belong to this line.'),
    ...lineRules,
  })
  .describe('A line: the numbers it answers and how its calls are routed.');

const demoMembers = ['101', '102', '103'];

/** The demo office's lines: Sales routes by the CRM, Support is a sequential queue. */
const demoLines: z.input<typeof lineSchema>[] = [
  {
    id: 'sales',
    name: 'Sales',
    number: '+74950000001',
    routing: {
      kind: 'responsible',
      responsibleTimeoutSec: 20,
      then: { members: demoMembers, strategy: 'simultaneous', memberTimeoutSec: 20 },
    },
    leadCreation: 'inbound',
    crmSource: 'CALL',
  },
  {
    id: 'support',
    name: 'Support',
    number: '+74950000002',
    routing: { kind: 'queue', queue: { members: demoMembers, strategy: 'sequential', memberTimeoutSec: 5 } },
    leadCreation: 'inbound',
    crmSource: 'CALL',
  },
];

export const engineSchema = z
  .strictObject({
    directory: z
      .array(
        z.strictObject({
          extension: extension.describe('An extension of the PBX.'),
          userId: userId
            .nullable()
            .describe(
              'The Bitrix24 user behind it; null: a phone nobody is mapped to (a lobby phone, a fax).',
            ),
        }),
        { error: 'expected a list of {extension, userId}' },
      )
      .default([])
      .describe(
        "Extensions the portal does not know, or that map otherwise than the users' internal numbers (UF_PHONE_INNER) say; these entries win. The rest of the extension map is read from the portal's users.",
      ),
    lines: z
      .array(lineSchema, { error: 'expected a list of lines' })
      .prefault(demoLines)
      .superRefine((lines, ctx) => {
        lines.forEach((line, index) => {
          if (lines.findIndex((other) => other.id === line.id) !== index)
            ctx.addIssue({ code: 'custom', path: [index, 'id'], message: 'another line has this id' });
        });
      })
      .describe(
        "The office's lines. Left out: the demo office's two lines, Sales and Support (a warning says so at start); [] for none, so every call rings the extension dialled.",
      ),
    defaultLine: z
      .strictObject(lineRules)
      .prefault({ routing: { kind: 'direct' }, crmSource: 'CALL' })
      .describe('The rules of calls that match no line: by default they ring the number dialled.'),
    defaultUserId: userId
      .optional()
      .describe(
        'The Bitrix24 user a call is logged to when nobody else qualifies (nobody answered, no member was rung); without one, the portal user the bridge acts as (who installed the app, or whose webhook it is).',
      ),
    skipClosedWorkday: flag
      .default(true)
      .describe(
        "A known caller's responsible manager whose workday is closed or paused in Bitrix24's time " +
          'tracking (TIMEMAN_STATUS) is skipped: the call goes straight to the queue.',
      ),
    routeWaitSec: seconds(60)
      .default(1)
      .describe(
        'How long a call whose manager is known when it starts waits for the PBX to ask ' +
          'POST /pbx/v1/route before the bridge transfers it to the manager itself (a PBX routing on ' +
          'its own never asks).',
      ),
    tombstoneSec: seconds(86_400)
      .default(600)
      .describe(
        'How long the end of a call whose start has not arrived is remembered: a start that comes ' +
          'later within this time logs the call at once and shows no card.',
      ),
    recording: z
      .strictObject({
        maxWaitSec: seconds()
          .default(300)
          .describe(
            'Seconds an answered call waits for its recording before it is logged without one; 0: never wait.',
          ),
        hideGraceSec: seconds(3600)
          .default(2)
          .describe(
            'Seconds the card may stay up after the hang-up while the recording is awaited: a recording in time lets the finish hide the card, which saves a request; 0: hide at once.',
          ),
      })
      .prefault({})
      .describe('Recordings: how long a call waits for its recording before it is logged.'),
    ringTimeoutSec: seconds(3600)
      .default(30)
      .describe('Seconds a direct call rings its extension (a line may set its own timeoutSec).'),
    addToChat: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .describe(
        "Whether Bitrix24 posts each logged call to the user's chat (ADD_TO_CHAT); left out: the portal's default.",
      ),
    originateTimeoutSec: seconds(3600)
      .optional()
      .describe(
        'Seconds a click-to-call or callback may wait for the PBX to start its call before it is logged as failed; default 60.',
      ),
    maxCallSec: seconds()
      .optional()
      .describe(
        'A call whose end the PBX never reports is ended after this many seconds, so its card cannot stay up; default 14400 (4 h), 0 never.',
      ),
    retainSec: seconds()
      .optional()
      .describe(
        'Seconds a finished call is remembered, to recognise repeated events and late recordings; default 21600 (6 h).',
      ),
  })
  .describe('The rules of the office: the extension map, lines and queues, timings.');

/** A whole number from `min` to `max`; the message says so. */
const whole = (min: number, max: number, what = 'a whole number') =>
  z
    .number({ error: `expected ${what} from ${min} to ${max}` })
    .int({ error: `expected ${what} from ${min} to ${max}` })
    .min(min, { error: `expected ${what} from ${min} to ${max}` })
    .max(max, { error: `expected ${what} from ${min} to ${max}` });

const rateLimit = z
  .strictObject({
    rate: z
      .number({ error: 'expected requests per second, a number > 0' })
      .positive({
        error: 'expected requests per second, a number > 0',
      })
      .describe("Requests per second the portal's bucket drains: 2, or 5 on enterprise plans."),
    burst: z
      .number({ error: 'expected a whole number ≥ 1' })
      .int({ error: 'expected a whole number ≥ 1' })
      .min(1, { error: 'expected a whole number ≥ 1' })
      .describe('Requests the bucket holds: 50, or 250 on enterprise plans.'),
  })
  .prefault({ rate: 2, burst: 50 })
  .describe(
    "The portal's REST limit, which the bridge keeps to (past it Bitrix24 answers QUERY_LIMIT_EXCEEDED): 2 requests a second with a burst of 50, or 5 and 250 on enterprise plans.",
  );

/**
 * How the client spends the portal's budget beside the limit itself: the bucket is shared with
 * every other app on the portal, and a card a person waits for must not queue behind logging.
 */
const pacing = z
  .strictObject({
    holdMs: z
      .number({ error: 'expected milliseconds from 0 to 30000, a whole number' })
      .int({ error: 'expected milliseconds from 0 to 30000, a whole number' })
      .min(0, { error: 'expected milliseconds from 0 to 30000, a whole number' })
      .max(30_000, { error: 'expected milliseconds from 0 to 30000, a whole number' })
      .default(3000)
      .describe(
        'The longest a request of finishes and recordings (no card) is held to travel with more commands; it goes sooner once it fills a batch or the portal is idle. Reads are never held, only kept off the card reserve. 0: never held.',
      ),
    cardReserve: z
      .number({ error: 'expected a whole number ≥ 0' })
      .int({ error: 'expected a whole number ≥ 0' })
      .min(0, { error: 'expected a whole number ≥ 0' })
      .optional()
      .describe(
        "Places at the top of the portal's bucket only requests with a card may use, so a card never waits behind logging; default a fifth of the burst (10 of 50).",
      ),
  })
  .prefault({})
  .describe(
    "How requests share the portal's budget: cards go at once, what is not urgent is held a few seconds to fill bigger batches and keeps off the top of the bucket. The bucket is never taken above its burst less 3.",
  );

const wholeMs = (what: string) =>
  z
    .number({ error: `expected ${what} in milliseconds, a whole number ≥ 0` })
    .int({ error: `expected ${what} in milliseconds, a whole number ≥ 0` })
    .min(0, { error: `expected ${what} in milliseconds, a whole number ≥ 0` })
    .max(600_000, { error: `expected ${what} in milliseconds, at most 600000` });

/**
 * How hard the client tries one request before it gives the failure to the outbox. The outbox
 * waits out an outage by itself (probes), and only sees the link down once the client gives up:
 * with the client's defaults (5 tries, portal-wide pauses growing to 30 s) that takes minutes
 * with a long queue. Fewer, quicker tries let the outbox take over sooner. Absent: the bridge's
 * own short defaults (`bridgeClientRetry`: 2 tries, 200 ms to 2 s).
 */
const retry = z
  .strictObject({
    maxAttempts: z
      .number({ error: 'expected a whole number from 1 to 20' })
      .int({ error: 'expected a whole number from 1 to 20' })
      .min(1, { error: 'expected a whole number from 1 to 20' })
      .max(20, { error: 'expected a whole number from 1 to 20' })
      .optional()
      .describe('Tries of one request, the first included; default 2.'),
    minDelayMs: wholeMs('the first pause')
      .optional()
      .describe('Milliseconds before the second try; default 200.'),
    maxDelayMs: wholeMs('the longest pause')
      .optional()
      .describe('The longest pause between tries, in milliseconds; default 2000.'),
  })
  .optional()
  .describe(
    'How hard one request is tried before the durable outbox takes over (it waits out an outage by itself, probing the portal). Fewer, quicker tries let it take over sooner; left out: 2 tries, 200 ms to 2 s.',
  );

const bitrixSchema = z
  .discriminatedUnion(
    'mode',
    [
      z
        .strictObject({
          mode: z.literal('app').describe('A Bitrix24 application (OAuth).'),
          clientId: name('expected the application client_id', 200).describe(
            "The application's client_id, shown by the portal when the local application is saved (local.…).",
          ),
          clientSecret: secret(token).describe("The application's client_secret."),
          oauthUrl: httpUrl('the OAuth token URL')
            .optional()
            .describe(
              "The OAuth server's token URL; default https://oauth.bitrix.info/oauth/token/ (the demo points it at the emulator).",
            ),
          rateLimit,
          pacing,
          retry,
          directoryRefreshSec: z
            .number({ error: 'expected seconds from 30 to 86400' })
            .int({ error: 'expected seconds from 30 to 86400' })
            .min(30, { error: 'expected seconds from 30 to 86400' })
            .max(86_400, { error: 'expected seconds from 30 to 86400' })
            .default(900)
            .describe(
              "Seconds between two reads of each portal's extension map (the users' internal numbers).",
            ),
          eventMaxAgeSec: whole(30, 86_400, 'seconds')
            .default(600)
            .describe(
              'Events from Bitrix24 whose `ts` is older than this are refused (a stale delivery replayed later). ' +
                'Later timestamps are taken: the portal’s clock may run ahead of this one.',
            ),
          events: z
            .enum(['offline', 'push'], { error: 'expected "offline" or "push"' })
            .optional()
            .describe(
              'How the portal\'s events reach the bridge. "offline": the bridge binds them as offline events and ' +
                'collects them itself (event.offline.get), so Bitrix24 never needs to reach it (behind NAT, no ' +
                'public URL; recordings are uploaded). "push": Bitrix24 posts them to server.publicUrl. Default: ' +
                '"push" when server.publicUrl is set, else "offline".',
            ),
          offline: z
            .strictObject({
              pollLiveMs: whole(250, 2_000, 'milliseconds')
                .default(1_000)
                .describe(
                  'Milliseconds between two reads of the offline queue while calls are live or were lately.',
                ),
              pollIdleMs: whole(1_000, 600_000, 'milliseconds')
                .default(2_000)
                .describe(
                  'Milliseconds between two reads while nothing happens: a click waits up to this long, so keep it ≤ 2000 where clicks must ring at once.',
                ),
              activeSec: whole(0, 86_400, 'seconds')
                .default(300)
                .describe('How long after the last event or PBX call the reads stay at pollLiveMs.'),
              clickFreshSec: whole(5, 3_600, 'seconds')
                .default(60)
                .describe(
                  'A click found in the queue older than this (the bridge was down) is not dialled: the call is finished as not connected.',
                ),
            })
            .prefault({})
            .describe('The reads of the offline event queue (bitrix.events "offline").'),
          installLimit: z
            .strictObject({
              perAddress: whole(1, 10_000)
                .default(10)
                .describe('Install requests one client address may make per minute; more are answered 429.'),
              overall: whole(1, 100_000)
                .default(60)
                .describe('Install requests from all addresses together per minute; more are answered 429.'),
            })
            .prefault({})
            .describe(
              'The install endpoint (`/bitrix/install`, and ONAPPINSTALL) asks the OAuth server with the client ' +
                'secret for every plausible request: these limits keep anonymous requests cheap.',
            ),
        })
        .describe(
          'Installed as a Bitrix24 application (OAuth): what registering and finishing calls and click-to-call need; any number of portals.',
        ),
      z
        .strictObject({
          mode: z.literal('webhook').describe('An incoming webhook of one portal.'),
          url: secret(httpUrl('the incoming webhook URL')).describe(
            'The incoming webhook, https://<portal>/rest/<user>/<secret>/.',
          ),
          rateLimit,
          pacing,
          retry,
        })
        .describe(
          'An incoming webhook of one portal: reads users and the CRM, but Bitrix24 refuses telephony.externalcall.register/finish to webhooks, so calls are not logged (a fallback for trying things out).',
        ),
    ],
    { error: 'expected mode "app" or "webhook"' },
  )
  .describe('How the bridge reaches Bitrix24.');

const devicePattern = z
  .string({ error: 'expected a device pattern with {ext}, like "PJSIP/{ext}"' })
  .regex(/^[^{}]*\{ext\}[^{}]*$/, { error: 'expected a device pattern with {ext} once, like "PJSIP/{ext}"' });

/** How the bridge reaches an Asterisk's manager interface (AMI), for `kind: "asterisk"`. */
const amiSchema = z
  .strictObject({
    host: name('expected the Asterisk host name or address', 255).describe(
      "The Asterisk's host name or address, where its manager interface (AMI) listens.",
    ),
    port: port.default(5038).describe("AMI's TCP port (manager.conf port)."),
    username: name('expected the AMI user name (a section of manager.conf)', 100).describe(
      'The AMI user: a [section] of manager.conf (FreePBX: Asterisk Manager Users).',
    ),
    secret: secret(name('expected the AMI secret (manager.conf "secret")', 500)).describe(
      "That user's secret.",
    ),
    devicePattern: z
      .union(
        [devicePattern, z.array(devicePattern).min(1, { error: 'expected at least one device pattern' })],
        {
          error: 'expected a device pattern like "PJSIP/{ext}", or a list of them',
        },
      )
      .default(['PJSIP/{ext}', 'SIP/{ext}'])
      .describe(
        'Which channels are office phones and which extension each is ({ext} matches it): PJSIP/{ext} sees PJSIP/101-0000002a as 101. The first pattern also rings a phone for click-to-call. FreePBX queues with Local members: add Local/{ext}@from-queue.',
      ),
    context: name('expected a dialplan context, like "from-internal"', 80)
      .default('from-internal')
      .describe(
        'Where Originate and Redirect send calls: the context the phones dial from (FreePBX: from-internal).',
      ),
    recordings: z
      .strictObject({
        dir: name('expected a directory path', 4096)
          .optional()
          .describe(
            "MixMonitor's directory as the bridge sees it (the same host, or a read-only mount): the bridge uploads each file.",
          ),
        urlBase: httpUrl('the URL the recordings are served under')
          .optional()
          .describe(
            'Where a web server publishes that directory: the CRM fetches <urlBase>/<path below the directory>.',
          ),
      })
      .refine((r) => (r.dir === undefined) !== (r.urlBase === undefined), {
        error: 'expected either "dir" or "urlBase", one of them',
      })
      .optional()
      .describe(
        'Where the call recordings are: one of dir or urlBase. Left out: calls are logged without recordings.',
      ),
    mode: z
      .enum(['mirror', 'route'], { error: 'expected "mirror" or "route"' })
      .default('mirror')
      .describe(
        "mirror: Asterisk's own queues and ring groups decide who rings, the cards follow; route: the dialplan asks the bridge (POST /pbx/v1/route) and dials the plan it answers.",
      ),
    // Optional rather than defaulted: a parsed configuration prints only what its operator set.
    maxParkedEvents: whole(1, 1_000_000)
      .optional()
      .describe(
        'While no Bitrix24 portal is installed, the PBX events are kept in the store, at most this many (default 10,000); past it the oldest are dropped (logged once, counted by b24_bridge_pbx_events_dropped_total). They go to the portal once one is installed.',
      ),
  })
  .describe(
    'How the bridge reaches an Asterisk (or FreePBX) over its manager interface, for kind "asterisk".',
  );

const pbxSchema = z
  .strictObject({
    id: id.describe(
      "The PBX's id (letters, digits, - and _): in logs, metrics and B24_BRIDGE_PBX_<ID>_TOKEN.",
    ),
    token: secret(token).describe('The bearer token this PBX presents on /pbx/v1 (Authorization: Bearer …).'),
    kind: z
      .enum(pbxKinds, { error: 'expected "webhook", "simulator" or "asterisk"' })
      .default('webhook')
      .describe(
        'webhook: a PBX or cloud PBX that calls the HTTP API (/pbx/v1); asterisk: the bridge connects to its AMI itself (ami below); simulator: the simulated office of the demo and the tests.',
      ),
    commandUrl: secret(httpUrl('the PBX command URL'))
      .optional()
      .describe(
        'Where the bridge POSTs commands (originate, transfer) to this PBX; without it the PBX fetches them with GET /pbx/v1/commands (a long poll). Treated as a secret: it may carry a token.',
      ),
    portal: name('expected a portal member_id or domain', 253)
      .optional()
      .describe(
        'The portal this PBX serves, by member_id or domain. May be left out while the bridge serves one portal; with several, a PBX without one is refused, so that calls never cross portals.',
      ),
    recordingHosts: z
      .array(
        z.string({ error: 'expected a host name' }).regex(/^(\*\.)?[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/, {
          error: 'expected a host name, host:port or *.domain',
        }),
        { error: 'expected a list of host names' },
      )
      .optional()
      .describe(
        'The hosts this PBX’s recording URLs may name (`pbx.example.com`, `host:8443`, `*.example.com`), ' +
          'whatever address they have: the portal downloads from them (outbound-only: the bridge does, and uploads the file); a recording.ready naming another host is refused with 400. Left out, a URL must name a host ' +
          'whose every address is public (no loopback, private, link-local or metadata address), checked ' +
          'after DNS resolution (a name this machine cannot resolve is passed on).',
      ),
    maxLiveCalls: whole(1, 1_000_000)
      .optional()
      .describe(
        'Default 20000. At most this many live calls of this PBX are followed; past it, new calls are not (the PBX gets ' +
          'its answer, a route the fallback plan), a warning is logged and b24_bridge_live_calls_refused_total counts them.',
      ),
    ami: amiSchema.optional(),
  })
  .describe('A PBX the bridge serves.');

const storeSchema = z
  .discriminatedUnion(
    'kind',
    [
      z
        .strictObject({
          kind: z.literal('sqlite').describe('An embedded SQLite file.'),
          path: name('expected a file path', 4096)
            .default('data/bridge.sqlite')
            .describe(
              'The SQLite file (WAL mode); recordings are kept in the same directory. Relative to the working directory.',
            ),
        })
        .describe('SQLite: one process, one file; a normal office.'),
      z
        .strictObject({
          kind: z.literal('postgres').describe('PostgreSQL.'),
          url: secret(
            z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// connection URL' }),
          ).describe(
            'The connection URL, postgres://user:password@host:5432/database (a schema of its own: ?options=-c%20search_path%3Dname).',
          ),
        })
        .describe(
          'PostgreSQL 15 or later: several bridge instances on one database (a call centre, a provider).',
        ),
    ],
    { error: 'expected kind "sqlite" or "postgres"' },
  )
  .prefault({ kind: 'sqlite' })
  .describe(
    'Where the bridge keeps what it must find again after a restart: portals and their tokens, live calls, the outbox.',
  );

export const configSchema = z.strictObject({
  $schema: z
    .string()
    .optional()
    .describe(
      'Where an editor finds the JSON Schema of this file (b24-bridge config schema prints it); ignored by the bridge.',
    ),
  server: z
    .strictObject({
      host: name('expected a host name or address to listen on', 255)
        .default('127.0.0.1')
        .describe('Where the HTTP server listens: loopback behind a reverse proxy, 0.0.0.0 in a container.'),
      port: port.default(3000).describe('The HTTP port.'),
      publicUrl: httpUrl('the public URL of the bridge')
        .optional()
        .describe(
          "How Bitrix24 and the PBXes reach the bridge, https://bridge.example.com: the portal's event handlers and recording downloads point there. Session cookies are Secure when it is https.",
        ),
      trustProxy: z
        .boolean({ error: 'expected true or false' })
        .optional()
        .describe(
          'Behind a reverse proxy: take the client address from its X-Forwarded-For header (login ' +
            'throttling and install limits count per client address). Default false: leave it so when ' +
            'clients reach the bridge directly, or anyone could claim any address.',
        ),
    })
    .prefault({})
    .describe("The bridge's HTTP server: the PBX API, Bitrix24's callbacks, the admin UI."),
  store: storeSchema,
  bitrix: bitrixSchema,
  pbx: z
    .array(pbxSchema, { error: 'expected a list of PBXes' })
    .min(1, { error: 'expected at least one PBX' })
    .superRefine((pbxes, ctx) => {
      pbxes.forEach((pbx, index) => {
        if (pbxes.findIndex((other) => other.id === pbx.id) !== index)
          ctx.addIssue({ code: 'custom', path: [index, 'id'], message: 'another PBX has this id' });
        // Said without the token: the message must not hold a secret.
        if (pbxes.findIndex((other) => other.token === pbx.token) !== index)
          ctx.addIssue({ code: 'custom', path: [index, 'token'], message: 'another PBX has the same token' });
        if ((pbx.kind === 'asterisk') !== (pbx.ami !== undefined))
          ctx.addIssue({
            code: 'custom',
            path: [index, 'ami'],
            message:
              pbx.kind === 'asterisk'
                ? 'an asterisk PBX needs its AMI settings: {host, username, secret}'
                : 'AMI settings are only for kind "asterisk"',
          });
      });
    })
    .describe('The PBXes the bridge serves: at least one.'),
  engine: engineSchema.prefault({}),
  crmIndex: z
    .strictObject({
      reconcileSec: seconds(3600)
        .default(10)
        .describe(
          'How often the CRM phone index confirms a batch (up to 50 numbers, one request) of the ' +
            'numbers it confirmed longest ago, in the lowest priority lane. 0: never.',
        ),
      maxAgeSec: seconds(30 * 86_400)
        .default(86_400)
        .describe('A number of the CRM phone index confirmed longer ago than this is due for the reconcile.'),
      workdayTrustSec: seconds(86_400)
        .default(600)
        .describe(
          "How long a manager's TIMEMAN_STATUS from the index is gone by; older, the manager is rung " +
            'as if at work, and the number is asked about again.',
        ),
    })
    .prefault({})
    .describe(
      'The CRM phone index: caller number → CRM record → responsible manager, per portal, so a known ' +
        "caller reaches their manager first however slowly the portal answers. Filled from the bridge's " +
        'lookups, kept fresh by CRM change events and the reconcile.',
    ),
  portals: z
    .array(
      z.strictObject({
        portal: name('expected a portal member_id or domain', 253).describe(
          'The portal, by member_id or domain.',
        ),
        engine: engineSchema.prefault({}),
      }),
      { error: 'expected a list of portals' },
    )
    .default([])
    .describe(
      'Portals with rules of their own (a provider serving several offices): the engine section given here replaces the top-level one for that portal (its lines, queues, routing).',
    ),
  admin: z
    .strictObject({
      token: secret(token)
        .optional()
        .describe('For scripts and monitoring: Authorization: Bearer … on the JSON API (/api/).'),
      password: secret(token).optional().describe('For people: the admin UI login form.'),
      login: z
        .strictObject({
          maxFailuresPerAddress: whole(1, 1000)
            .default(5)
            .describe('Wrong passwords or tokens from one client address before it is locked out.'),
          maxFailuresOverall: whole(1, 100_000)
            .default(50)
            .describe(
              'Wrong passwords or tokens from all addresses together before every login is locked out ' +
                '(guessing from many addresses).',
            ),
          windowSec: whole(1, 86_400, 'seconds')
            .default(900)
            .describe('The failures counted are those of the last this many seconds.'),
          lockoutSec: whole(1, 86_400, 'seconds')
            .default(900)
            .describe('How long a lockout lasts; logins are refused with 429 meanwhile, even right ones.'),
        })
        .prefault({})
        .describe('Throttling of the admin login form and of the admin bearer token.'),
      board: z
        .strictObject({
          maxCalls: whole(1, 5000)
            .default(200)
            .describe(
              'The live board shows this many calls, the most recent first; the journal has them all.',
            ),
          pushesPerSec: whole(1, 20)
            .default(4)
            .describe(
              'At most this many updates a second go to each open board; changes in between are sent together, ' +
                'and only the rows that changed.',
            ),
        })
        .prefault({})
        .describe('The live call board (/).'),
    })
    .prefault({})
    .describe('The admin UI and its JSON API; with neither token nor password set, nobody can log in.'),
  recordings: z
    .strictObject({
      retentionDays: whole(1, 3650, 'days')
        .default(30)
        .describe(
          'Recordings a PBX uploaded are kept this long, then deleted (Bitrix24 keeps its own copy once ' +
            'it fetched one). A portal’s recordings are deleted when it uninstalls the app.',
        ),
      linkTtlSec: whole(300, 7 * 86_400, 'seconds')
        .default(86_400)
        .describe(
          'How long a recording download link handed to Bitrix24 stays valid: long enough for the portal ' +
            'to fetch it; afterwards the link answers 403.',
        ),
    })
    .prefault({})
    .describe('Recordings uploaded by PBXes and served to Bitrix24 at `/recordings/<ref>`.'),
  journal: z
    .strictObject({
      retentionDays: whole(1, 3650, 'days')
        .default(30)
        .describe(
          "Calls in the call journal (/journal: each call's timeline, found by number, user, line and time) " +
            'are kept this long, then deleted.',
        ),
    })
    .prefault({})
    .describe(
      'The call journal: what happened to each call, for the administrator asked about it afterwards.',
    ),
  logging: z
    .strictObject({
      level: z
        .enum(['debug', 'info', 'warn', 'error'], { error: 'expected "debug", "info", "warn" or "error"' })
        .default('info')
        .describe('The least severe level logged; debug adds a line per HTTP request and answer.'),
      format: z
        .enum(['json', 'pretty'], { error: 'expected "json" or "pretty"' })
        .default('json')
        .describe(
          'json: one JSON object a line, for a log shipper; pretty: short plain lines, on a terminal only.',
        ),
    })
    .prefault({})
    .describe('The log: pino lines on stdout, every secret scrubbed.'),
});

export type BridgeConfig = z.output<typeof configSchema>;
/** What a configuration file may hold: everything with a default may be left out. */
export type BridgeConfigInput = z.input<typeof configSchema>;
export type LineSettings = z.output<typeof lineSchema>;
