#!/usr/bin/env node
/**
 * `npm run demo`: a test-pattern sender and a headless receiver that saves frames, on this
 * machine, with the receiver's live stats. Prints the two commands it runs, so they can be
 * copied to a camera host and a server. Ctrl-C stops both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const endpoint = process.env.ZEROCAM_DEMO_ENDPOINT ?? 'tcp://127.0.0.1:5555';
const out = resolve(process.env.ZEROCAM_DEMO_OUT ?? 'recordings');
const extra = process.argv.slice(2);
const dist = resolve(__dirname, '..');

const senderArgs = ['--source', 'testsrc', '--bind', endpoint, '--no-stats', ...extra];
const receiverArgs = ['--connect', endpoint, '--out', out, '--max-files', '300', ...extra];

console.log(`zerocam demo: a test-pattern sender and a headless receiver saving to ${out} (newest 300 frames).`);
console.log(`  zerocam-sender ${senderArgs.join(' ')}`);
console.log(`  zerocam-receiver ${receiverArgs.join(' ')}`);
console.log('Ctrl-C stops both.\n');

const children: ChildProcess[] = [
  spawn(process.execPath, [join(dist, 'receiver/cli.js'), ...receiverArgs], { stdio: 'inherit' }),
  spawn(process.execPath, [join(dist, 'sender/cli.js'), ...senderArgs], { stdio: ['ignore', 'ignore', 'inherit'] }),
];

let exitCode = 0;
const exited = children.map(
  (child) =>
    new Promise<void>((done) =>
      child.on('exit', (code) => {
        exitCode ||= code ?? 0;
        // When one side fails (a busy port, say), stop the other rather than leave it waiting.
        for (const other of children) if (other !== child && other.exitCode === null) other.kill('SIGTERM');
        done();
      }),
    ),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of children) if (child.exitCode === null) child.kill(signal);
  });
}
void Promise.all(exited).then(() => process.exit(exitCode));
