/**
 * The app page in the portal's frame, opened by anyone who has the app. Any user may see the state;
 * only the portal's administrators may run its test actions (they ring phones and write to the CRM).
 * The page's session never reaches a log and stays out of URLs; only the portal may frame the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postForm, startOffice, type Answer, type EmulatedPortal, type Office } from './office.ts';

const sessionOf = (html: string): string => /name="session" value="([^"]+)"/.exec(html)?.[1] ?? '';

describe('the app page', () => {
  let office: Office;
  let portal: EmulatedPortal;

  const open = async (userId: number): Promise<Answer> => {
    const { query, form } = await portal.openAs(userId);
    return postForm(`${office.bridge.url}/bitrix/app?${new URLSearchParams(query).toString()}`, form);
  };
  const act = (session: string, name: string) =>
    postForm(`${office.bridge.url}/bitrix/app/actions/${name}`, { session });

  beforeAll(async () => {
    office = await startOffice();
    portal = office.portals[0]!;
  });
  afterAll(async () => {
    await office.close();
  });

  it('an employee sees the page, without the test actions, and running one is refused with 403', async () => {
    const page = await open(2);
    expect(page.status).toBe(200);
    expect(page.text).toContain('id="directory"');
    expect(page.text).not.toContain('data-action="incoming-call"');
    const session = sessionOf(page.text);
    expect(session).not.toBe('');
    for (const name of ['incoming-call', 'refresh-directory', 'event-test']) {
      const res = await act(session, name);
      expect(res.status).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'APP_ADMIN_REQUIRED' } });
    }
    const cards = await portal.control<unknown[]>('cards');
    expect(cards.body).toEqual([]);
  });

  it('an administrator runs them; the answer is the page itself, with no redirect', async () => {
    const page = await open(1);
    expect(page.text).toContain('data-action="incoming-call"');
    const res = await act(sessionOf(page.text), 'refresh-directory');
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.text).toMatch(/the extension map has \d+ extensions/);
  });

  it('only the portal may frame it', async () => {
    const page = await open(1);
    expect(page.headers.get('content-security-policy')).toContain(`frame-ancestors ${portal.emulator.url}`);
    expect(page.headers.get('x-frame-options')).toBeNull();
  });

  it('the session is in no URL the page makes and in no log line', async () => {
    const page = await open(1);
    const session = sessionOf(page.text);
    const again = await act(session, 'refresh-directory');
    const view = await postForm(`${office.bridge.url}/bitrix/app/view`, { session });
    expect(view.status).toBe(200);
    // An older link with the session in its query still opens the page; its URL is logged redacted.
    const old = await fetch(`${office.bridge.url}/bitrix/app?session=${encodeURIComponent(session)}`);
    expect(old.status).toBe(200);
    for (const html of [page.text, again.text, view.text]) {
      expect(html).not.toMatch(/[?&]session=/);
      expect(html).not.toMatch(/href=/);
    }
    const logs = office.logs.join('\n');
    expect(logs).toContain('/bitrix/app');
    for (const piece of [session, encodeURIComponent(session), session.split('.')[1]!])
      expect(logs).not.toContain(piece);
  });
});
