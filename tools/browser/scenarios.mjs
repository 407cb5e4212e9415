// Browser scenarios for the overlay and tablet pages (the page tests and `./bench demo`), in Debian's chromium driven by
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
  let signedInThroughForm = false;
  if (args.token) {
    // The judge signs in through the form; nothing of the page shows before that.
    await page.waitForFunction(() => !document.getElementById('login').hidden, null, { timeout: 15000 });
    var before = { mainVisible: await page.isVisible('#main'), clipVisible: await page.isVisible('#clip') };
    await page.fill('#token-input', args.token);
    await page.click('#login-form button[type=submit]');
    signedInThroughForm = true;
  }
  await page.waitForFunction(n => document.querySelectorAll('#timeline rect.hit').length >= n, args.clips || 3, { timeout: 30000 });
  const clipVisibleBeforeTap = await page.isVisible('#clip');
  await page.click(`#timeline rect.hit[data-clip="${args.clip}"]`);
  await page.waitForFunction(() => !document.getElementById('clip').hidden && document.getElementById('thumb').naturalWidth > 0, null, { timeout: 15000 });
  if (args.panelWait) {
    await page.waitForFunction(() => document.getElementById('panel-score').textContent !== '–', null, { timeout: 15000 });
  }
  if (args.screenshot) { await page.screenshot({ path: args.screenshot, fullPage: true }); }
  const box = await page.$eval('#timeline', e => { const r = e.getBoundingClientRect(); return { width: r.width, height: r.height }; });
  return {
    signedInThroughForm,
    before: before || null,
    clipVisibleBeforeTap,
    urlAfter: page.url(),
    aspect: box.width / box.height,
    preserveAspectRatio: await page.$eval('#timeline', e => e.getAttribute('preserveAspectRatio')),
    axisUnits: await page.$$eval('#timeline text.unit', e => e.map(x => x.textContent)),
    hits: await page.$$eval('#timeline rect.hit', e => e.length),
    bars: await page.$$eval('#timeline rect.bar', e => e.length),
    scoreDots: await page.$$eval('#timeline circle.score', e => e.length),
    beyondMarks: await page.$$eval('#timeline circle.beyond', e => e.map(x => x.dataset.clip)),
    totalPath: await page.$$eval('#timeline path.total', e => e.length),
    clipIndex: await page.$eval('#clip-index', e => e.textContent),
    clipTime: await page.$eval('#clip-time', e => e.textContent),
    weight: await page.$eval('#clip-weight', e => e.textContent),
    score: await page.$eval('#clip-score', e => e.textContent),
    deduction: await page.$eval('#clip-deduction', e => e.textContent),
    fallMarks: await page.$$eval('#timeline text.fall', e => e.map(x => x.dataset.clip)),
    contribution: await page.$eval('#clip-contribution', e => e.textContent),
    attended: await page.$eval('#clip-attended', e => e.textContent),
    compared: await page.$eval('#clip-compared', e => e.textContent),
    flag: await page.isVisible('#clip-flag') ? await page.$eval('#clip-flag', e => e.textContent) : null,
    thumbWidth: await page.$eval('#thumb', e => e.naturalWidth),
    modelScore: await page.$eval('#model-score', e => e.textContent),
    panelScore: await page.$eval('#panel-score', e => e.textContent),
    modelMinusPanel: await page.$eval('#model-minus-panel', e => e.textContent),
    selectedHit: await page.$$eval('#timeline rect.hit.selected', e => e.map(x => x.dataset.clip)),
  };
}

// The broadcast graphics: the score bug (args.overlay) and the standings (args.standings), each waited for until its
// text shows what args.expect names, then screenshotted; returns what a viewer would read.
async function graphics(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  const out = {};
  if (args.overlay) {
    await page.goto(args.overlay);
    await page.waitForFunction(e => document.getElementById('athlete').textContent === e.athlete
      && document.getElementById('score').textContent === e.score, args.expect, { timeout: 30000 });
    await page.waitForTimeout(800);   // the flash has faded
    if (args.overlayShot) { await page.screenshot({ path: args.overlayShot, omitBackground: true }); }
    const strip = await page.$eval('#markers', e => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right }; });
    const latest = await page.$eval('.marker.latest', e => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, width: r.width }; });
    out.overlay = {
      athlete: await page.$eval('#athlete', e => e.textContent),
      nation: await page.$eval('#nation', e => e.textContent),
      score: await page.$eval('#score', e => e.textContent),
      label: await page.$eval('#score-label', e => e.textContent),
      rank: await page.$eval('#rank', e => e.textContent),
      leader: await page.$eval('#leader', e => e.textContent),
      competition: await page.$eval('#competition', e => e.textContent),
      markers: await page.$$eval('.marker', e => e.length),
      strip, latest,
    };
  }
  if (args.standings) {
    await page.goto(args.standings);
    await page.waitForFunction(n => document.querySelectorAll('#rows tr').length >= n, args.rows, { timeout: 30000 });
    await page.waitForTimeout(500);
    if (args.standingsShot) { await page.screenshot({ path: args.standingsShot, omitBackground: true }); }
    out.standings = {
      title: await page.$eval('#title', e => e.textContent),
      rows: await page.$$eval('#rows tr', rows => rows.map(r => [...r.children].map(td => td.textContent))),
      onIce: await page.$eval('#on-ice', e => e.textContent),
      templateFunctions: await page.evaluate(() => ['update', 'play', 'stop', 'next'].every(f => typeof window[f] === 'function')),
    };
  }
  return out;
}

// The overlay's latest-clip line once clip args.clip is the latest: its score and, for a likely fall, its deduction.
async function latest(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(args.url);
  await page.waitForFunction(c => document.getElementById('latest-clip').textContent === String(c), args.clip, { timeout: 30000 });
  if (args.screenshot) { await page.screenshot({ path: args.screenshot, omitBackground: true }); }
  return {
    score: await page.$eval('#latest-score', e => e.textContent),
    deductionVisible: await page.isVisible('#latest-deduction'),
    deduction: await page.$eval('#latest-deduction', e => e.textContent),
    fallMarkers: await page.$$eval('.marker.fall', e => e.map(x => [...x.parentNode.children].indexOf(x))),
    shown: await page.$eval('#score', e => e.textContent),
  };
}

// The overlay when a performance ends: the final stays for the hold time though the next athlete has started.
async function hold(page) {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(args.url);
  await page.waitForFunction(a => document.getElementById('athlete').textContent === a, args.first, { timeout: 30000 });
  say('first');
  const timeline = [];
  const until = Date.now() + args.watchMs;
  while (Date.now() < until) {
    timeline.push({ at: Date.now(), athlete: await page.$eval('#athlete', e => e.textContent), score: await page.$eval('#score', e => e.textContent),
      label: await page.$eval('#score-label', e => e.textContent) });
    await page.waitForTimeout(100);
  }
  return { timeline };
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
      const shown = dom.performance ? await (await fetch('/api/performances/' + encodeURIComponent(dom.performance))).json() : null;
      return { before, dom, after, shown };
    });
    const verdict = judge(s, lagMs, args.holdMs || 0);
    samples.push({ phase: verdict.phase, ok: verdict.ok });
    if (!verdict.ok) { wrong++; if (wrongSamples.length < 5) { wrongSamples.push({ reason: verdict.reason, sample: s }); } }
    if ((i + 1) % 25 === 0) { say(`reloads ${i + 1}, wrong ${wrong}`); }
  }
  return { reloads: samples.length, wrong, wrongSamples,
    atStart: samples.filter(x => x.phase === 'start').length, midPerformance: samples.filter(x => x.phase === 'mid').length,
    ended: samples.filter(x => x.phase === 'ended').length, held: samples.filter(x => x.phase === 'held').length };
}

function judge(s, lagMs, holdMs) {
  const fmt2 = x => Number(x).toFixed(2);
  const candidates = [s.before.newest, s.after.newest].filter(Boolean);
  const same = candidates.filter(v => v.performanceId === s.dom.performance);
  const phaseOf = v => v.status === 'ended' ? 'ended' : (v.provisional ? 'mid' : 'start');
  if (same.length === 0 && s.shown && s.shown.status === 'ended' && s.shown.provisional) {
    // A final held on screen (?hold) while the next athlete has no score yet.
    const newestUnscored = candidates.some(v => !v.provisional || s.dom.at - v.provisional.timestampMs < lagMs);
    const withinHold = s.dom.at - s.shown.endedAtMs < holdMs + lagMs;
    const ok = newestUnscored && withinHold && s.dom.text === fmt2(s.shown.provisional.total) && s.dom.athlete === s.shown.athlete;
    return { ok, phase: 'held', reason: `held "${s.dom.text}" of ${s.shown.performanceId} ended ${s.dom.at - s.shown.endedAtMs} ms ago` };
  }
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
      // A final in flight: the screen may still show the provisional after the last clip, which the final closes.
      const last = v.clips.filter(c => c.provisionalAfter != null && c.clipIndex === p.clipsSeen - 1);
      if (v.status === 'ended' && last.length) { allowed.add(fmt2(last[0].provisionalAfter)); }
    }
  }
  const ok = allowed.has(s.dom.text) && s.dom.athlete === (same[0].athlete || same[0].performanceId);
  return { ok, phase: phaseOf(same[0]), reason: `shown "${s.dom.text}" (${s.dom.athlete}), allowed ${[...allowed].join(' | ')}` };
}

const scenarios = { overlay, tablet, reconnect, denied, paints, reloads, graphics, hold, latest };
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
