/** An `AdminView` over plain data: the UI's tests need no bridge, no portal and no PBX. */
import { EventEmitter } from 'node:events';
import type {
  AdminView,
  BacklogRow,
  CallRow,
  ExtensionMap,
  LineRow,
  PortalHealth,
  QueueEdit,
  QueueRow,
  ReplayStarted,
} from '../../src/admin/index.ts';

export class FakeView implements AdminView {
  callRows: CallRow[] = [];
  queueRows: QueueRow[] = [
    {
      id: 'support',
      lineName: 'Support',
      lineNumber: '+74950000002',
      routing: 'queue',
      members: ['101', '102'],
      strategy: 'sequential',
      memberTimeoutSec: 5,
      extension: null,
      responsibleTimeoutSec: null,
    },
  ];
  backlogRows: BacklogRow[] = [
    {
      portal: 'p1',
      pending: 3,
      inFlight: 1,
      failed: 0,
      dropped: 0,
      oldestOpenAt: Date.now() - 5000,
      lastError: { code: 'NETWORK', at: Date.now() - 1000 },
      replay: { total: 10, delivered: 6 },
    },
  ];
  replays: string[] = [];
  edits: { id: string; edit: QueueEdit }[] = [];
  private readonly changes = new EventEmitter();

  calls(): CallRow[] {
    return this.callRows;
  }
  lines(): LineRow[] {
    return this.queueRows.map((q) => ({
      id: q.id,
      name: q.lineName,
      number: q.lineNumber,
      calledNumbers: [],
      routing: q.routing,
      targets: q.members,
      strategy: q.strategy,
      leadCreation: 'inbound',
    }));
  }
  queues(): QueueRow[] {
    return this.queueRows;
  }
  extensions(): Promise<ExtensionMap[]> {
    return Promise.resolve([
      {
        portal: 'p1',
        error: null,
        rows: [
          { extension: '101', userId: 2, userName: 'Anna', source: 'portal', problems: [] },
          {
            extension: null,
            userId: 6,
            userName: 'Elena',
            source: 'portal',
            problems: ['user_without_extension'],
          },
        ],
      },
    ]);
  }
  portals(): Promise<PortalHealth[]> {
    return Promise.resolve([
      {
        portal: 'p1',
        domain: 'p1.example',
        auth: 'oauth',
        link: 'down',
        bucket: { level: 3, burst: 50, rate: 2 },
        queued: 4,
        inFlight: 0,
        pausedForMs: 0,
        tokenExpiresAt: Date.now() + 3_000_000,
        needsReinstall: null,
      },
    ]);
  }
  backlog(): Promise<BacklogRow[]> {
    return Promise.resolve(this.backlogRows);
  }
  updateQueue(id: string, edit: QueueEdit): Promise<QueueRow | undefined> {
    const q = this.queueRows.find((x) => x.id === id);
    if (!q) return Promise.resolve(undefined);
    this.edits.push({ id, edit });
    Object.assign(q, edit);
    return Promise.resolve(q);
  }
  replay(portal: string): Promise<ReplayStarted | undefined> {
    if (portal !== 'p1') return Promise.resolve(undefined);
    this.replays.push(portal);
    return Promise.resolve({ portal, open: 4 });
  }
  onCallChange(listener: () => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }
  changed(): void {
    this.changes.emit('change');
  }
}

export function call(overrides: Partial<CallRow> = {}): CallRow {
  return {
    portal: 'p1',
    key: 'c1@1',
    pbxCallId: 'c1',
    direction: 'inbound',
    origin: 'pbx',
    phoneNumber: '+79161234567',
    calledNumber: '101',
    lineId: '',
    crm: { entityType: 'CONTACT', entityId: 1 },
    createdLead: false,
    cardHolders: [{ userId: 2, name: 'Anna Ivanova' }],
    phase: 'live',
    legs: { '101': 'ringing' },
    startedAt: Date.now() - 3000,
    answeredAt: null,
    endedAt: null,
    endReason: null,
    ...overrides,
  };
}
