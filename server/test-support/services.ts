import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, requirePath } from './requirements.js';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const postgresBin = '/usr/lib/postgresql/15/bin';

export function havePostgres(): boolean {
  return requirePath(join(postgresBin, 'initdb'), 'PostgreSQL 15', 'install it with: apt-get install postgresql-15');
}

function asPostgresUser(args: string[]): string[] {
  // initdb refuses to run as root: run the server binaries as the postgres user then.
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...args] : args;
}

/** A private PostgreSQL cluster in a temp folder on a free loopback port; `stop` ends it by its data folder. */
export async function startPostgres(): Promise<{ url: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'paradim-pg-'));
  const password = randomBytes(12).toString('hex');
  mkdirSync(join(dir, 'sock'));
  writeFileSync(join(dir, 'pwfile'), `${password}\n`);
  chmodSync(join(dir, 'pwfile'), 0o600);
  if (process.getuid?.() === 0) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    const uid = Number(ids.stdout.trim());
    const gid = Number(gids.stdout.trim());
    for (const path of [dir, join(dir, 'sock'), join(dir, 'pwfile')]) chownSync(path, uid, gid);
  }
  const run = (args: string[]): void => {
    const [command, ...rest] = asPostgresUser(args);
    const result = spawnSync(command ?? '', rest, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${args[0]} failed: ${result.stderr}${result.stdout}`);
  };
  run([join(postgresBin, 'initdb'), '-D', join(dir, 'data'), '-U', 'paradim', '--auth=scram-sha-256', `--pwfile=${join(dir, 'pwfile')}`, '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  run([
    join(postgresBin, 'pg_ctl'),
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'server.log'),
    '-o',
    `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${join(dir, 'sock')} -c fsync=on`,
    '-w',
    'start',
  ]);
  return {
    url: `postgres://paradim:${password}@127.0.0.1:${port}/postgres`,
    stop: () => {
      const [command, ...rest] = asPostgresUser([join(postgresBin, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      spawnSync(command ?? '', rest);
    },
  };
}

export const s3rverScript = join(repoRoot, 'node_modules', 's3rver', 'bin', 's3rver.js');

export function haveS3rver(): boolean {
  return requirePath(s3rverScript, 's3rver', 'install the dev dependencies with: npm ci');
}

/** s3rver (S3 test double) on a free loopback port with one bucket; stopped by its PID. */
export async function startS3rver(bucket: string): Promise<{ endpoint: string; stop: () => void; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'paradim-s3-'));
  const port = await freePort();
  const child = spawn(process.execPath, [s3rverScript, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--configure-bucket', bucket, '--silent'], {
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i += 1) {
    try {
      const response = await fetch(`${endpoint}/${bucket}`);
      if (response.status < 500) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    endpoint,
    child,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
