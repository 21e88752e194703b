// The committed outputs of build/scripts/make-icons.mjs: present, the sizes electron-builder
// and the OSes expect, and tray images in the colours each platform needs.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './builder';

const build = (...parts: string[]) => path.join(repoRoot, 'build', ...parts);

async function pixels(file: string) {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** The distinct RGB colours of the pixels that are not fully transparent. */
async function visibleColours(file: string): Promise<Set<string>> {
  const { data } = await pixels(file);
  const colours = new Set<string>();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
  }
  return colours;
}

async function expectSize(file: string, width: number, height = width) {
  const { width: w, height: h } = await sharp(file).metadata();
  expect({ file: path.relative(repoRoot, file), width: w, height: h }).toEqual({ file: path.relative(repoRoot, file), width, height });
}

describe('app icons', () => {
  it('has a 1024 px icon.png', async () => {
    await expectSize(build('icon.png'), 1024);
  });

  it('has the Linux icon set electron-builder reads from build/icons', async () => {
    for (const size of [16, 24, 32, 48, 64, 128, 256, 512]) {
      await expectSize(build('icons', `${size}x${size}.png`), size);
    }
  });

  it('has an icon.ico with a 256 px entry (electron-builder rejects smaller)', () => {
    const ico = readFileSync(build('icon.ico'));
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2)]).toEqual([0, 1]);
    const count = ico.readUInt16LE(4);
    // In an ICO directory entry a width byte of 0 means 256.
    const widths = Array.from({ length: count }, (_, i) => ico[6 + i * 16] || 256);
    expect(widths).toContain(16);
    expect(widths).toContain(256);
  });

  it('has an icon.icns that declares its own length', () => {
    const icns = readFileSync(build('icon.icns'));
    expect(icns.subarray(0, 4).toString('latin1')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
  });
});

describe('tray icons', () => {
  const states = ['', 'Update'];

  it('has macOS template images at 1x and 2x, black plus alpha only', async () => {
    for (const state of states) {
      await expectSize(build('tray', `tray${state}Template.png`), 16);
      await expectSize(build('tray', `tray${state}Template@2x.png`), 32);
      for (const file of [`tray${state}Template.png`, `tray${state}Template@2x.png`]) {
        expect([...(await visibleColours(build('tray', file)))], file).toEqual(['0,0,0']);
      }
    }
  });

  it('has a dark glyph for light taskbars and a light glyph for dark ones', async () => {
    const brightness = (rgb: string) => rgb.split(',').map(Number).reduce((a, b) => a + b, 0) / 3;
    for (const suffix of ['', '-update']) {
      for (const density of ['', '@2x']) {
        const onLight = [...(await visibleColours(build('tray', `tray-light${suffix}${density}.png`)))];
        const onDark = [...(await visibleColours(build('tray', `tray-dark${suffix}${density}.png`)))];
        expect(Math.max(...onLight.map(brightness)), `tray-light${suffix}${density}`).toBeLessThan(64);
        expect(Math.min(...onDark.map(brightness)), `tray-dark${suffix}${density}`).toBeGreaterThan(192);
        await expectSize(build('tray', `tray-light${suffix}${density}.png`), density ? 32 : 16);
        await expectSize(build('tray', `tray-dark${suffix}${density}.png`), density ? 32 : 16);
      }
    }
  });

  it('draws a glyph, not an empty image', async () => {
    const { data } = await pixels(build('tray', 'trayTemplate.png'));
    let opaque = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 128) opaque++;
    expect(opaque).toBeGreaterThan(40);
  });
});

describe('installer artwork', () => {
  it('has the DMG background at the window size and twice that', async () => {
    await expectSize(build('background.png'), 540, 380);
    await expectSize(build('background@2x.png'), 1080, 760);
  });
});
