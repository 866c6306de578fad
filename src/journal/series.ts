/**
 * Figures over time for the dashboard, per minute and in memory (the last `minutes`): Bitrix24
 * requests sent, limit refusals, and the outbox backlog as last sampled. A restart starts them
 * afresh; the call figures come from the journal tables instead.
 */
export interface MinutePoint {
  /** Start of the minute, epoch ms. */
  at: number;
  requests: number;
  rateLimited: number;
  /** Open outbox entries (pending + in flight) over every portal, when sampled in that minute. */
  backlog: number | null;
}

const MINUTE = 60_000;

export class MinuteSeries {
  private readonly points: MinutePoint[] = [];

  constructor(private readonly minutes = 24 * 60) {}

  private point(now: number): MinutePoint {
    const at = Math.floor(now / MINUTE) * MINUTE;
    const last = this.points.at(-1);
    if (last && last.at === at) return last;
    const p: MinutePoint = { at, requests: 0, rateLimited: 0, backlog: null };
    this.points.push(p);
    if (this.points.length > this.minutes) this.points.splice(0, this.points.length - this.minutes);
    return p;
  }

  request(now: number): void {
    this.point(now).requests += 1;
  }

  rateLimited(now: number): void {
    this.point(now).rateLimited += 1;
  }

  backlog(now: number, open: number): void {
    this.point(now).backlog = open;
  }

  /** The points since `from`, oldest first; minutes without a point are absent. */
  since(from: number): MinutePoint[] {
    return this.points.filter((p) => p.at >= from).map((p) => ({ ...p }));
  }
}
