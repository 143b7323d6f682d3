import { describe, expect, it } from 'vitest';
import { challengePayload } from './app-proof.js';

const parts = { challenge: 'c'.repeat(43), appId: 'com.example.tool', agentInstance: 'i'.repeat(24) };

describe('challengePayload', () => {
  it('is the tagged, newline-separated statement of instance, app and challenge', () => {
    expect(challengePayload(parts).toString('utf8')).toBe(`latchkey-app-proof-v1\n${'i'.repeat(24)}\ncom.example.tool\n${'c'.repeat(43)}`);
  });

  it('refuses parts that could smuggle a separator or are malformed', () => {
    for (const bad of [
      { ...parts, appId: 'com.example\nx' },
      { ...parts, appId: 'Com.Example' },
      { ...parts, agentInstance: `${'i'.repeat(20)}\n` },
      { ...parts, agentInstance: 'short' },
      { ...parts, challenge: `${'c'.repeat(20)}+/` },
      { ...parts, challenge: 42 as unknown as string },
    ]) {
      expect(() => challengePayload(bad)).toThrow(expect.objectContaining({ name: 'LatchkeyError', code: 'usage' }));
    }
  });
});
