#!/usr/bin/env node
// Generates every icon and installer image in build/ from the hand-drawn SVGs in
// build/source/. The outputs are committed; rerun this after editing a source:
//
//   node build/scripts/make-icons.mjs
//
// SVGs are rasterised by sharp (librsvg) straight at each target size, so small
// sizes are drawn, not downscaled. The .ico and .icns containers come from png2icons,
// which builds every size they need from the 1024 px render.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import png2icons from 'png2icons';
import sharp from 'sharp';

const buildDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = path.join(buildDir, 'source');

/** Linux hicolor sizes; electron-builder reads build/icons/<n>x<n>.png for AppImage and deb. */
const LINUX_ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512];

/** Windows tray: the small-icon size at 100, 125, 150, 200, 250 and 300 % scaling, and 64 for 400 %. */
const WINDOWS_TRAY_SIZES = [16, 20, 24, 32, 40, 48, 64];

// Tray glyph colours. "light"/"dark" name the taskbar the icon sits on:
// a light taskbar needs a dark glyph and the other way round.
const TRAY_GLYPH_ON_LIGHT = '#1B1B1B';
const TRAY_GLYPH_ON_DARK = '#FFFFFF';
// macOS template images must be black plus alpha; the OS tints them for the menu bar.
const TEMPLATE_BLACK = '#000000';

async function readSvg(name) {
  return readFile(path.join(sourceDir, name), 'utf8');
}

/** Renders an SVG whose root is width="W" height="H" at `scale` times its own size. */
async function renderSvg(svg, scale, color) {
  const match = /<svg[^>]*\swidth="(\d+)"\s+height="(\d+)"/.exec(svg);
  if (match === null) throw new Error('source SVG needs numeric width and height on its root element');
  const [width, height] = [Number(match[1]) * scale, Number(match[2]) * scale];
  let text = svg.replace(match[0], match[0].replace(`width="${match[1]}"`, `width="${width}"`).replace(`height="${match[2]}"`, `height="${height}"`));
  if (color !== undefined) text = text.replaceAll('fill="#000000"', `fill="${color}"`);
  // Fixed zlib settings and no metadata keep reruns byte-identical, so git only sees real changes.
  return sharp(Buffer.from(text)).png({ compressionLevel: 9, adaptiveFiltering: false, palette: false }).toBuffer();
}

async function output(relativePath, data) {
  const file = path.join(buildDir, relativePath);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
  console.log(`  ${path.posix.join('build', relativePath.split(path.sep).join('/'))}`);
}

async function appIcons() {
  const svg = await readSvg('icon.svg');
  const png1024 = await renderSvg(svg, 1);
  await output('icon.png', png1024);

  for (const size of LINUX_ICON_SIZES) {
    await output(path.join('icons', `${size}x${size}.png`), await renderSvg(svg, size / 1024));
  }

  // forWinExe: BMP for the sizes up to 48 px (what Explorer's older dialogs read), PNG above.
  const ico = png2icons.createICO(png1024, png2icons.BICUBIC, 0, false, true);
  if (ico === null) throw new Error('png2icons could not build icon.ico');
  await output('icon.ico', ico);

  const icns = png2icons.createICNS(png1024, png2icons.BICUBIC, 0);
  if (icns === null) throw new Error('png2icons could not build icon.icns');
  await output('icon.icns', icns);
  png2icons.clearCache();
}

/**
 * An ICO holding one PNG per size (PNG entries: Windows Vista and later).
 * ICONDIR (reserved, type 1, count), one 16-byte ICONDIRENTRY per image, then the images.
 */
function icoOf(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, i) => {
    const at = 6 + i * 16;
    header.writeUInt8(size >= 256 ? 0 : size, at);
    header.writeUInt8(size >= 256 ? 0 : size, at + 1);
    header.writeUInt16LE(1, at + 4); // colour planes
    header.writeUInt16LE(32, at + 6); // bits per pixel
    header.writeUInt32LE(png.length, at + 8);
    header.writeUInt32LE(offset, at + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((i) => i.png)]);
}

async function trayIcons() {
  const variants = [
    { source: 'tray.svg', state: '' },
    { source: 'tray-badge.svg', state: 'Update' },
  ];
  for (const { source, state } of variants) {
    const svg = await readSvg(source);
    const suffix = state === '' ? '' : `-${state.toLowerCase()}`;
    for (const [scale, density] of [[1, ''], [2, '@2x']]) {
      // macOS: names must end in "Template" for Electron to mark the image as a template.
      await output(path.join('tray', `tray${state}Template${density}.png`), await renderSvg(svg, scale, TEMPLATE_BLACK));
      await output(path.join('tray', `tray-light${suffix}${density}.png`), await renderSvg(svg, scale, TRAY_GLYPH_ON_LIGHT));
      await output(path.join('tray', `tray-dark${suffix}${density}.png`), await renderSvg(svg, scale, TRAY_GLYPH_ON_DARK));
    }
    // Windows: every size drawn from the SVG, so the notification area never scales a bitmap (the glyph is 16 px wide).
    for (const [panel, color] of [['light', TRAY_GLYPH_ON_LIGHT], ['dark', TRAY_GLYPH_ON_DARK]]) {
      const images = [];
      for (const size of WINDOWS_TRAY_SIZES) images.push({ size, png: await renderSvg(svg, size / 16, color) });
      await output(path.join('tray', `tray-${panel}${suffix}.ico`), icoOf(images));
    }
  }
}

async function installerArtwork() {
  // dmg-builder merges background.png and background@2x.png into one HiDPI TIFF on macOS.
  const svg = await readSvg('dmg-background.svg');
  await output('background.png', await renderSvg(svg, 1));
  await output('background@2x.png', await renderSvg(svg, 2));
}

console.log('make-icons: writing');
await appIcons();
await trayIcons();
await installerArtwork();
