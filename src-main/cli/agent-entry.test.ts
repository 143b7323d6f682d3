import { describe, expect, it } from 'vitest';
import { runAgentCommand } from './agent-launch.js';
import type { CliIO } from './output.js';

/** Output that fails the test if anything is written: the cases below must all be left to the full CLI. */
const io: CliIO = {
  stdout: { write: () => expect.unreachable('stdout written') } as unknown as NodeJS.WritableStream,
  stderr: { write: () => expect.unreachable('stderr written') } as unknown as NodeJS.WritableStream,
  env: { LATCHKEY_HOME: '/nonexistent/latchkey-agent-entry-test' },
};

describe('the bundled agent entry (agent-launch → agent-entry)', () => {
  it('leaves every command line it does not fully understand to the full CLI, starting nothing', async () => {
    const others = [
      ['agent'], // start in the background: the full CLI's job
      ['agent', 'stop'],
      ['agent', 'stop', '--foreground'],
      ['agent', '--foreground', '--help'],
      ['agent', '--foreground', '--passphrase-stdin'], // the full CLI reads stdin
      ['agent', '--foreground', '--log-format', 'xml'],
      ['agent', '--foreground', '--foreground'],
      ['agent', 'start', 'start', '--foreground'],
      ['agent', '--foregroud'],
      ['status', '--foreground'],
    ];
    for (const argv of others) expect(await runAgentCommand(argv, io), argv.join(' ')).toBeUndefined();
  });
});
