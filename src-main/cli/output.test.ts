/** What every list command prints (providers, accounts, apps, activity, hosts), through one printList. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { printList, type CliIO } from './output.js';

function captureIO(): { io: CliIO; stdout: () => string; stderr: () => string } {
  const [out, err] = [new PassThrough(), new PassThrough()];
  const read = (s: PassThrough) => () => (s.read() as Buffer | null)?.toString('utf8') ?? '';
  return { io: { stdout: out, stderr: err, env: {} }, stdout: read(out), stderr: read(err) };
}

const how = { empty: 'No hosts mapped.', header: ['HOST', 'PROVIDER'], row: (r: { host: string; provider: string }) => [r.host, r.provider] };

describe('printList', () => {
  it('prints an aligned table on stdout, nothing on stderr', () => {
    const c = captureIO();
    printList(c.io, [{ host: 'git.example.com', provider: 'work' }, { host: 'r.io', provider: 'ci' }], { ...how, json: false });
    expect(c.stdout()).toBe('HOST             PROVIDER\ngit.example.com  work\nr.io             ci\n');
    expect(c.stderr()).toBe('');
  });

  it('says there is nothing on stderr, so a script reading stdout gets nothing', () => {
    const c = captureIO();
    printList(c.io, [], { ...how, json: false });
    expect(c.stdout()).toBe('');
    expect(c.stderr()).toBe('No hosts mapped.\n');
  });

  it('with --json prints the list itself, an empty one as []', () => {
    const c = captureIO();
    printList(c.io, [{ host: 'r.io', provider: 'ci' }], { ...how, json: true });
    expect(JSON.parse(c.stdout())).toEqual([{ host: 'r.io', provider: 'ci' }]);
    printList(c.io, [], { ...how, json: true });
    expect(c.stdout()).toBe('[]\n');
    expect(c.stderr()).toBe('');
  });
});
