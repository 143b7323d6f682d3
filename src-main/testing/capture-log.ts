/** A real (redacting) logger whose output tests can read, to prove no secret reached it. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../log/logger.js';

export interface CapturedLog {
  logger: Logger;
  lines: string[];
  /** Everything logged so far, as one string. */
  text(): string;
}

export function captureLog(level: 'debug' | 'info' = 'debug'): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines, text: () => lines.join('') };
}
