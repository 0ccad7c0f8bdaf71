import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors/app-error.js';
import { createDispatcher, type Handlers } from './dispatcher.js';

const origin = { transport: 'websocket', requestId: 'r1' } as const;
const status = { url: null, state: 'offline', serverVersion: null, reason: 'x', checkedAt: null } as const;
const signedOut = { state: 'signed-out', method: null, serverUrl: null, user: null, ssoAvailable: false } as const;

function handlers(overrides: Partial<Handlers> = {}): Handlers {
  return {
    'app.getInfo': async () => ({ productName: 'P', version: '1', shell: 'browser', platform: 'linux', runtimeVersions: {} }),
    'settings.get': async () => ({ serverUrl: null }),
    'settings.update': async (patch) => ({ serverUrl: patch.serverUrl ?? null }),
    'server.getStatus': async () => status,
    'server.checkNow': async () => status,
    'session.get': async () => signedOut,
    'session.signInWithToken': async () => signedOut,
    'session.signInWithSso': async () => signedOut,
    'session.signOut': async () => signedOut,
    'albums.list': async () => [],
    'albums.create': async () => {
      throw new AppError('FORBIDDEN');
    },
    'albums.members': async () => [],
    'albums.setMember': async () => {
      throw new AppError('FORBIDDEN');
    },
    'albums.removeMember': async () => ({}),
    'albums.accessReview': async () => {
      throw new AppError('FORBIDDEN');
    },
    'albums.invite': async () => {
      throw new AppError('FORBIDDEN');
    },
    'albums.destroy': async () => {
      throw new AppError('FORBIDDEN');
    },
    'import.profiles': async () => [],
    'import.scan': async () => {
      throw new AppError('FORBIDDEN');
    },
    'import.preview': async () => {
      throw new AppError('FORBIDDEN');
    },
    'import.start': async () => ({ taskId: 't' }),
    'import.cancel': async () => ({}),
    'import.exportMap': async () => ({ patients: 0 }),
    'import.push': async () => ({ stored: 0, failed: [] }),
    'tokens.list': async () => [],
    'tokens.create': async () => {
      throw new AppError('FORBIDDEN');
    },
    'tokens.revoke': async () => ({}),
    ...overrides,
  };
}

describe('dispatcher', () => {
  const log = pino({ level: 'silent' });

  it('returns the handler value in an ok envelope', async () => {
    const dispatch = createDispatcher(handlers(), log);
    expect(await dispatch('settings.update', { serverUrl: 'https://pacs.example/x' }, origin)).toEqual({
      ok: true,
      value: { serverUrl: 'https://pacs.example/x' },
    });
  });

  it('refuses unknown channels and invalid input before any handler runs, saying where', async () => {
    let ran = false;
    const dispatch = createDispatcher(handlers({ 'settings.update': async () => ((ran = true), { serverUrl: null }) }), log);
    expect(await dispatch('fs.readFile', {}, origin)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(await dispatch('__proto__', {}, origin)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    const bad = await dispatch('settings.update', { serverUrl: 'javascript:alert(1)' }, origin);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', details: [{ path: 'serverUrl' }] } });
    expect(await dispatch('settings.update', { extra: 1 }, origin)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    expect(ran).toBe(false);
  });

  it('passes AppErrors through with the table message and hides bugs as INTERNAL', async () => {
    const failing = createDispatcher(
      handlers({
        'server.checkNow': async () => {
          throw new AppError('SERVER_UNREACHABLE', [{ path: 'url', issue: 'refused' }]);
        },
        'settings.get': async () => {
          throw new TypeError('secret internal detail');
        },
      }),
      log,
    );
    expect(await failing('server.checkNow', {}, origin)).toEqual({
      ok: false,
      error: { code: 'SERVER_UNREACHABLE', message: 'The companion server cannot be reached.', details: [{ path: 'url', issue: 'refused' }] },
    });
    const hidden = await failing('settings.get', {}, origin);
    expect(hidden).toMatchObject({ ok: false, error: { code: 'INTERNAL', details: [] } });
    expect(JSON.stringify(hidden)).not.toContain('secret internal detail');
  });

  it('refuses a handler value outside the contract', async () => {
    const dispatch = createDispatcher(handlers({ 'settings.get': async () => ({ serverUrl: 42 }) as never }), log);
    expect(await dispatch('settings.get', {}, origin)).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });
});
