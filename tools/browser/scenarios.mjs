// Browser scenarios for the overlay and tablet pages (the page tests and `aqa bench demo`), in Debian's chromium driven by
// playwright-core from web/node_modules.
// Usage: node scenarios.mjs SCENARIO '{"url": ...}'. Prints progress lines, then one line: result {json}.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = process.env.AQA_WEB_DIR || path.resolve(here, '../../web');
const { chromium } = createRequire(path.join(web, 'package.json'))('playwright-core');
const [scenario, argText] = process.argv.slice(2);
const args = JSON.parse(argText || '{}');
const say = line => process.stdout.write(line + '\n');

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// Alpha statistics of a PNG screenshot, computed in the page itself (canvas), inside and outside a rectangle.
async function alphaStats(page, png, rect) {
  return page.evaluate(async ({ b64, rect }) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width; canvas.height = img.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, img.width, img.height).data;
    let outside = 0, outsideTransparent = 0, inside = 0, insideOpaque = 0;
    for (let y = 0; y < img.height; y += 2) {
      for (let x = 0; x < img.width; x += 2) {
        const a = data[(y * img.width + x) * 4 + 3];
        const within = x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
        if (within) { inside++; if (a > 128) { insideOpaque++; } } else { outside++; if (a === 0) { outsideTransparent++; } }
      }
    }
    return { width: img.width, height: img.height, outsideTransparent: outsideTransparent / outside, insideOpaque: insideOpaque / inside };
  }, { b64: png.toString('base64'), rect });
}

async function overlay(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(args.url);
  const scores = [];
  const deadline = Date.now() + (args.timeoutMs || 30000);
  while (Date.now() < deadline) {
    const target = await page.$eval('#score', e => e.dataset.target);
    if (target && scores[scores.length - 1] !== target) { scores.push(target); say('score ' + target); }
    if (scores.length >= (args.distinctScores || 3)) { break; }
    await page.waitForTimeout(50);
  }
  await page.waitForTimeout(900);   // let the count-up finish
  const rect = await page.$eval('#graphic', e => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; });
  const png = await page.screenshot({ omitBackground: true, fullPage: false });
  if (args.screenshot) { (await import('node:fs')).writeFileSync(args.screenshot, png); }
  return {
    scores,
    shown: await page.$eval('#score', e => e.textContent),
    athlete: await page.$eval('#athlete', e => e.textContent),
    markers: await page.$$eval('.marker', e => e.length),
    latestWeight: await page.$eval('#latest-weight', e => e.textContent),
    stale: await page.evaluate(() => document.documentElement.classList.contains('aqa-stale')),
    templateFunctions: await page.evaluate(() => ['update', 'play', 'stop', 'next'].every(f => typeof window[f] === 'function')),
    rect,
    alpha: await alphaStats(page, png, rect),
    paints: await page.evaluate(() => window.aqaPaints),
  };
}

async function tablet(page) {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(args.url);
  await page.waitForFunction(n => document.querySelectorAll('#timeline rect.hit').length >= n, args.clips || 3, { timeout: 30000 });
  await page.click(`#timeline rect.hit[data-clip="${args.clip}"]`);
  await page.waitForFunction(() => !document.getElementById('clip').hidden && document.getElementById('thumb').naturalWidth > 0, null, { timeout: 15000 });
  if (args.screenshot) { await page.screenshot({ path: args.screenshot, fullPage: true }); }
  return {
    hits: await page.$$eval('#timeline rect.hit', e => e.length),
    bars: await page.$$eval('#timeline rect.bar', e => e.length),
    scoreDots: await page.$$eval('#timeline circle.score', e => e.length),
    totalPath: await page.$$eval('#timeline path.total', e => e.length),
    clipIndex: await page.$eval('#clip-index', e => e.textContent),
    clipTime: await page.$eval('#clip-time', e => e.textContent),
    weight: await page.$eval('#clip-weight', e => e.textContent),
    score: await page.$eval('#clip-score', e => e.textContent),
    attended: await page.$eval('#clip-attended', e => e.textContent),
    thumbWidth: await page.$eval('#thumb', e => e.naturalWidth),
    modelScore: await page.$eval('#model-score', e => e.textContent),
    selectedHit: await page.$$eval('#timeline rect.hit.selected', e => e.map(x => x.dataset.clip)),
  };
}

async function reconnect(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(args.url);
  await page.waitForFunction(() => document.getElementById('score').dataset.target, null, { timeout: 30000 });
  say('ready');
  await page.waitForFunction(() => document.documentElement.classList.contains('aqa-stale'), null, { timeout: 30000 });
  say('stale');
  await page.waitForFunction(t => document.getElementById('score').dataset.target === t && !document.documentElement.classList.contains('aqa-stale'),
    String(args.expectAfter), { timeout: 60000 });
  return { resumedWith: await page.$eval('#score', e => e.dataset.target), stale: false };
}

async function denied(page) {
  const api = [];
  page.on('response', r => { if (r.url().includes('/api/')) { api.push({ url: new URL(r.url()).pathname, status: r.status() }); } });
  await page.goto(args.url);
  await page.waitForFunction(() => !document.getElementById('login').hidden, null, { timeout: 15000 });
  await page.waitForTimeout(500);
  return {
    reason: await page.$eval('#login-reason', e => e.textContent),
    mainHidden: await page.$eval('#main', e => e.hidden),
    clipDetails: await page.$$eval('#timeline rect.hit', e => e.length),
    bodyText: await page.evaluate(() => document.body.innerText),
    api,
  };
}

// Collects the overlay's paint records for args.seconds (end-to-end latency: chunk at the ingest -> score on screen).
async function paints(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(args.url);
  const until = Date.now() + args.seconds * 1000;
  while (Date.now() < until) {
    await page.waitForTimeout(1000);
    const n = await page.evaluate(() => window.aqaPaints.length);
    say(`paints ${n}`);
  }
  return { paints: await page.evaluate(() => window.aqaPaints) };
}

// Reloads the overlay args.reloads times at random moments of live performances and, after each load, compares the
// number on screen with the REST API (read just before and just after): it must be the shown performance's latest
// provisional or "–", the shown performance the newest one. A push still in flight (the API already has a newer value
// produced less than args.lagMs ago) may leave the previous value of the same performance on screen for that long.
async function reloads(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  const lagMs = args.lagMs || 250;
  const samples = [];
  let wrong = 0;
  const wrongSamples = [];
  for (let i = 0; i < args.reloads; i++) {
    await page.goto(args.url, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => !document.documentElement.classList.contains('aqa-stale'), null, { timeout: 30000 });
    await page.waitForTimeout(Math.floor(Math.random() * (args.maxDwellMs || 400)));
    const s = await page.evaluate(async () => {
      const read = async () => {
        const list = await (await fetch('/api/performances')).json();
        let newest = null;
        for (const p of list) { if (!newest || (p.startedAtMs || 0) >= (newest.startedAtMs || 0)) { newest = p; } }
        const view = newest ? await (await fetch('/api/performances/' + encodeURIComponent(newest.performanceId))).json() : null;
        return { newest: view, at: Date.now() };
      };
      const before = await read();
      const el = document.getElementById('score');
      const dom = { text: el.textContent, performance: el.dataset.performance || null, athlete: document.getElementById('athlete').textContent, at: Date.now() };
      const after = await read();
      return { before, dom, after };
    });
    const verdict = judge(s, lagMs);
    samples.push({ phase: verdict.phase, ok: verdict.ok });
    if (!verdict.ok) { wrong++; if (wrongSamples.length < 5) { wrongSamples.push({ reason: verdict.reason, sample: s }); } }
    if ((i + 1) % 25 === 0) { say(`reloads ${i + 1}, wrong ${wrong}`); }
  }
  return { reloads: samples.length, wrong, wrongSamples,
    atStart: samples.filter(x => x.phase === 'start').length, midPerformance: samples.filter(x => x.phase === 'mid').length,
    ended: samples.filter(x => x.phase === 'ended').length };
}

function judge(s, lagMs) {
  const fmt2 = x => Number(x).toFixed(2);
  const candidates = [s.before.newest, s.after.newest].filter(Boolean);
  const same = candidates.filter(v => v.performanceId === s.dom.performance);
  const phaseOf = v => v.status === 'ended' ? 'ended' : (v.provisional ? 'mid' : 'start');
  if (same.length === 0) {
    // A performance that started a moment ago may not be on screen yet: then the screen shows the one before it.
    const recentStart = candidates.every(v => s.dom.at - (v.startedAtMs || 0) < lagMs);
    return { ok: recentStart && s.dom.performance !== null, phase: 'switch', reason: `shown ${s.dom.performance}, newest ${candidates.map(v => v.performanceId)}` };
  }
  const allowed = new Set();
  for (const v of same) {
    const p = v.provisional;
    if (!p) { allowed.add('–'); continue; }
    allowed.add(fmt2(p.total));
    if (s.dom.at - p.timestampMs < lagMs) {
      // the previous value of this performance (or none yet) while the newest is in flight
      const previous = v.clips.filter(c => c.provisionalAfter != null && c.clipIndex < p.clipsSeen - 1).map(c => c.provisionalAfter);
      allowed.add(previous.length ? fmt2(previous[previous.length - 1]) : '–');
    }
  }
  const ok = allowed.has(s.dom.text) && s.dom.athlete === (same[0].athlete || same[0].performanceId);
  return { ok, phase: phaseOf(same[0]), reason: `shown "${s.dom.text}" (${s.dom.athlete}), allowed ${[...allowed].join(' | ')}` };
}

const scenarios = { overlay, tablet, reconnect, denied, paints, reloads };
const browser = await launch();
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  const result = await scenarios[scenario](page);
  result.pageErrors = errors;
  say('result ' + JSON.stringify(result));
} catch (e) {
  say('result ' + JSON.stringify({ error: String(e && e.stack || e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
