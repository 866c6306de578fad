/**
 * The one configuration of the bridge. Every section has defaults except the two that name
 * secrets (`bitrix`, `pbx`), so a file only says what differs, and the defaults are the demo
 * office of issue 6: a call to an extension rings it; line +74950000001 "Sales" sends known callers
 * to their responsible manager and the rest to a simultaneous queue 101, 102, 103; line
 * +74950000002 "Support" rings 101 → 102 → 103 for 5 s each; unknown inbound callers create a lead.
 *
 * Objects are strict: an unknown key is a typo until proven otherwise, and a typo in a
 * configuration otherwise silently means "the default".
 */
import { z } from 'zod';
import { extension, httpUrl, id, name, phone, port, seconds, secret, token, userId } from './fields.ts';

const strategy = z.enum(['simultaneous', 'sequential'], { error: 'expected "simultaneous" or "sequential"' });

export const queueSchema = z
  .strictObject({
    members: z
      .array(extension, { error: 'expected a list of extensions, like ["101", "102"]' })
      .min(1, { error: 'expected at least one member' }),
    strategy: strategy.default('simultaneous'),
    /** A sequential queue rings each member this long; a simultaneous one rings all of them this long. */
    memberTimeoutSec: seconds(3600).default(20),
    /** The PBX's own ring group for this queue, if it has one. */
    extension: extension.optional(),
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
  });

const leadCreation = z
  .enum(['all', 'inbound', 'outbound', 'none'], { error: 'expected "all", "inbound", "outbound" or "none"' })
  .default('inbound');

export const routingSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('direct'),
      /** Ring this extension instead of the number dialled. */
      extension: extension.optional(),
      timeoutSec: seconds(3600).optional(),
    }),
    z.strictObject({ kind: z.literal('queue'), queue: queueSchema }),
    z.strictObject({
      kind: z.literal('responsible'),
      responsibleTimeoutSec: seconds(3600).default(20),
      then: queueSchema,
    }),
  ],
  { error: 'expected kind "direct", "queue" or "responsible"' },
);

const flag = z.boolean({ error: 'expected true or false' });

const lineRules = {
  routing: routingSchema,
  leadCreation,
  crmSource: name('expected a CRM source id, like "CALL"', 50).optional(),
  missedCallUserId: userId.optional(),
  logUnrungCalls: flag
    .default(true)
    .describe(
      'Log calls that ended before any phone rang (a busy extension, every queue member busy, the ' +
        'caller hanging up in the IVR or while waiting): registered without a card and finished as ' +
        'missed (busy: 486). false: such calls of this line are not sent to Bitrix24.',
    ),
};

export const lineSchema = z.strictObject({
  id,
  /** For people: the admin UI and logs. */
  name: name('expected a name for people, like "Sales"').optional(),
  /** LINE_NUMBER in Bitrix24; a call reported on this line or to this number belongs here. */
  number: phone.optional(),
  /** More numbers (DIDs) that belong to this line. */
  calledNumbers: z.array(phone, { error: 'expected a list of phone numbers' }).optional(),
  ...lineRules,
});

const demoMembers = ['101', '102', '103'];

/** The demo office's lines (issue 6). */
export const demoLines: z.input<typeof lineSchema>[] = [
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

export const engineSchema = z.strictObject({
  /**
   * Extensions the portal does not know (a lobby phone: userId null) or that should map otherwise
   * than UF_PHONE_INNER says. The rest of the directory is read from the portal's users.
   */
  directory: z
    .array(z.strictObject({ extension, userId: userId.nullable() }), {
      error: 'expected a list of {extension, userId}',
    })
    .default([]),
  lines: z
    .array(lineSchema, { error: 'expected a list of lines' })
    .prefault(demoLines)
    .superRefine((lines, ctx) => {
      lines.forEach((line, index) => {
        if (lines.findIndex((other) => other.id === line.id) !== index)
          ctx.addIssue({ code: 'custom', path: [index, 'id'], message: 'another line has this id' });
      });
    }),
  /** The rules of calls that match no line: ring the number dialled. */
  defaultLine: z.strictObject(lineRules).prefault({ routing: { kind: 'direct' }, crmSource: 'CALL' }),
  /**
   * Who a call is logged to when nobody else qualifies; without one, the portal's user the bridge
   * acts as (who installed the app, or whose webhook it is).
   */
  defaultUserId: userId.optional(),
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
      /** How long an answered call waits for its recording before it is finished without one. */
      maxWaitSec: seconds().default(300),
      /** How long the card stays up after hang-up while the recording is awaited. */
      hideGraceSec: seconds(3600).default(2),
    })
    .prefault({}),
  ringTimeoutSec: seconds(3600).default(30),
  addToChat: z.boolean({ error: 'expected true or false' }).optional(),
  originateTimeoutSec: seconds(3600).optional(),
  maxCallSec: seconds().optional(),
  retainSec: seconds().optional(),
});

/** A whole number from `min` to `max`; the message says so. */
const whole = (min: number, max: number, what = 'a whole number') =>
  z
    .number({ error: `expected ${what} from ${min} to ${max}` })
    .int({ error: `expected ${what} from ${min} to ${max}` })
    .min(min, { error: `expected ${what} from ${min} to ${max}` })
    .max(max, { error: `expected ${what} from ${min} to ${max}` });

const rateLimit = z
  .strictObject({
    /** Requests per second the portal's bucket drains: 2, or 5 on enterprise plans. */
    rate: z.number({ error: 'expected requests per second, a number > 0' }).positive({
      error: 'expected requests per second, a number > 0',
    }),
    /** Requests the bucket holds: 50, or 250 on enterprise plans. */
    burst: z
      .number({ error: 'expected a whole number ≥ 1' })
      .int({ error: 'expected a whole number ≥ 1' })
      .min(1, { error: 'expected a whole number ≥ 1' }),
  })
  .prefault({ rate: 2, burst: 50 });

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
      .optional(),
    minDelayMs: wholeMs('the first pause').optional(),
    maxDelayMs: wholeMs('the longest pause').optional(),
  })
  .optional();

export const bitrixSchema = z.discriminatedUnion(
  'mode',
  [
    z.strictObject({
      /** Installed as a Bitrix24 application: OAuth, any number of portals. */
      mode: z.literal('app'),
      clientId: name('expected the application client_id', 200),
      clientSecret: secret(token),
      /** The OAuth server; the demo points it at the emulator. */
      oauthUrl: httpUrl('the OAuth token URL').optional(),
      rateLimit,
      retry,
      /** How often each portal's extension map (user.get by UF_PHONE_INNER) is read again. */
      directoryRefreshSec: z
        .number({ error: 'expected seconds from 30 to 86400' })
        .int({ error: 'expected seconds from 30 to 86400' })
        .min(30, { error: 'expected seconds from 30 to 86400' })
        .max(86_400, { error: 'expected seconds from 30 to 86400' })
        .default(900),
      eventMaxAgeSec: whole(30, 86_400, 'seconds')
        .default(600)
        .describe(
          'Events from Bitrix24 whose `ts` is older than this are refused (a stale delivery replayed later). ' +
            'Later timestamps are taken: the portal’s clock may run ahead of this one.',
        ),
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
    }),
    z.strictObject({
      /** An incoming webhook of one portal: `https://<portal>/rest/<user>/<secret>/`. */
      mode: z.literal('webhook'),
      url: secret(httpUrl('the incoming webhook URL')),
      rateLimit,
      retry,
    }),
  ],
  { error: 'expected mode "app" or "webhook"' },
);

export const pbxKinds = ['webhook', 'simulator', 'asterisk'] as const;

const devicePattern = z
  .string({ error: 'expected a device pattern with {ext}, like "PJSIP/{ext}"' })
  .regex(/^[^{}]*\{ext\}[^{}]*$/, { error: 'expected a device pattern with {ext} once, like "PJSIP/{ext}"' });

/** How the bridge reaches an Asterisk's manager interface (AMI), for `kind: "asterisk"`. */
export const amiSchema = z.strictObject({
  host: name('expected the Asterisk host name or address', 255),
  port: port.default(5038),
  /** A `[section]` of manager.conf. */
  username: name('expected the AMI user name (a section of manager.conf)', 100),
  secret: secret(name('expected the AMI secret (manager.conf "secret")', 500)),
  /** Which channels are office phones; the first pattern also rings a phone for click-to-call. */
  devicePattern: z
    .union(
      [devicePattern, z.array(devicePattern).min(1, { error: 'expected at least one device pattern' })],
      {
        error: 'expected a device pattern like "PJSIP/{ext}", or a list of them',
      },
    )
    .default(['PJSIP/{ext}', 'SIP/{ext}']),
  /** Where Originate and Redirect send calls: the context phones dial from (FreePBX: from-internal). */
  context: name('expected a dialplan context, like "from-internal"', 80).default('from-internal'),
  recordings: z
    .strictObject({
      /** MixMonitor's directory as the bridge sees it (same host or a mount). */
      dir: name('expected a directory path', 4096).optional(),
      /** Where a web server publishes that directory: `<urlBase>/<file name>`. */
      urlBase: httpUrl('the URL the recordings are served under').optional(),
    })
    .refine((r) => (r.dir === undefined) !== (r.urlBase === undefined), {
      error: 'expected either "dir" or "urlBase", one of them',
    })
    .optional(),
  /** mirror: Asterisk's queues decide who rings; route: the dialplan asks POST /pbx/v1/route. */
  mode: z.enum(['mirror', 'route'], { error: 'expected "mirror" or "route"' }).default('mirror'),
});

export const pbxSchema = z.strictObject({
  id,
  /** The bearer token this PBX presents on `/pbx/v1`. */
  token: secret(token),
  kind: z.enum(pbxKinds, { error: 'expected "webhook", "simulator" or "asterisk"' }).default('webhook'),
  /** Where commands are POSTed; without it the PBX fetches them with `GET /pbx/v1/commands`. */
  commandUrl: secret(httpUrl('the PBX command URL')).optional(),
  /**
   * The portal this PBX serves (its member_id or domain). May be left out while the bridge serves
   * one portal; with several, a PBX without one is refused, so that calls never cross portals.
   */
  portal: name('expected a portal member_id or domain', 253).optional(),
  /**
   * The hosts this PBX's recording URLs may point at (`pbx.example.com`, `pbx.example.com:8443`,
   * `*.example.com`); a `recording.ready` naming another host is refused with 400. Left out: any
   * host whose every address is public.
   */
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
        'whatever address they have: the portal downloads from them. Left out, a URL must name a host ' +
        'whose every address is public (no loopback, private, link-local or metadata address), checked ' +
        'after DNS resolution (a name this machine cannot resolve is passed on).',
    ),
  /** The AMI link of an Asterisk (`kind: "asterisk"`). */
  ami: amiSchema.optional(),
});

export const storeSchema = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({
        kind: z.literal('sqlite'),
        path: name('expected a file path', 4096).default('data/bridge.sqlite'),
      }),
      z.strictObject({
        kind: z.literal('postgres'),
        url: secret(z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// connection URL' })),
      }),
    ],
    { error: 'expected kind "sqlite" or "postgres"' },
  )
  .prefault({ kind: 'sqlite' });

export const configSchema = z.strictObject({
  /** Lets an editor find the JSON Schema; ignored. */
  $schema: z.string().optional(),
  server: z
    .strictObject({
      host: name('expected a host name or address to listen on', 255).default('127.0.0.1'),
      port: port.default(3000),
      /** How Bitrix24 and PBXes reach the bridge (event handler URLs, recording URLs). */
      publicUrl: httpUrl('the public URL of the bridge').optional(),
      trustProxy: z
        .boolean({ error: 'expected true or false' })
        .optional()
        .describe(
          'Behind a reverse proxy: take the client address from its X-Forwarded-For header (login ' +
            'throttling and install limits count per client address). Default false: leave it so when ' +
            'clients reach the bridge directly, or anyone could claim any address.',
        ),
    })
    .prefault({}),
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
    }),
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
  /**
   * Portals with rules of their own (a provider serving several offices): the `engine` section
   * given here replaces the top-level one for that portal (its lines, queues, routing).
   */
  portals: z
    .array(
      z.strictObject({
        portal: name('expected a portal member_id or domain', 253),
        engine: engineSchema.prefault({}),
      }),
      { error: 'expected a list of portals' },
    )
    .default([]),
  admin: z
    .strictObject({
      token: secret(token).optional(),
      password: secret(token).optional(),
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
    })
    .prefault({}),
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
  logging: z
    .strictObject({
      level: z
        .enum(['debug', 'info', 'warn', 'error'], { error: 'expected "debug", "info", "warn" or "error"' })
        .default('info'),
      format: z.enum(['json', 'pretty'], { error: 'expected "json" or "pretty"' }).default('json'),
    })
    .prefault({}),
});

export type BridgeConfig = z.output<typeof configSchema>;
/** What a configuration file may hold: everything with a default may be left out. */
export type BridgeConfigInput = z.input<typeof configSchema>;
export type LineSettings = z.output<typeof lineSchema>;
export type PbxSettings = z.output<typeof pbxSchema>;
