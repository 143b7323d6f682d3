/** Screenshots as test artifacts, checked to show something: a blank or single-colour page fails. */
import { inflateSync } from 'node:zlib';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');

/** Distinct colours among a sample of the PNG's pixels (8-bit RGB/RGBA, as Chromium writes them). */
export function colourCount(png: Buffer): number {
  if (png.readUInt32BE(12) !== 0x49484452) throw new Error('not a PNG');
  const width = png.readUInt32BE(16);
  const channels = png[25] === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += length + 12;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels + 1;
  const colours = new Set<string>();
  // Rows filtered with "None" or "Sub" still differ wherever pixels differ: enough to tell blank from content.
  for (let row = 0; row * stride < raw.length; row += 7) {
    for (let x = 1; x < stride; x += channels * 5) colours.add(raw.subarray(row * stride + x, row * stride + x + channels).toString('hex'));
  }
  return colours.size;
}

export async function saveScreenshot(page: Page, name: string): Promise<{ path: string; bytes: number; colours: number }> {
  await mkdir(ARTIFACTS, { recursive: true });
  const png = await page.screenshot({ fullPage: false });
  const path = join(ARTIFACTS, `${name}.png`);
  await writeFile(path, png);
  return { path, bytes: png.length, colours: colourCount(png) };
}
