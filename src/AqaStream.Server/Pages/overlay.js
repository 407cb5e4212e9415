// The broadcast overlay: a plain browser source (it plays by itself) or a CasparCG / SPX HTML template
// (?template=1: it waits for play(); update(json), stop() and next() are the template functions).
(function () {
  'use strict';
  const { params, fmt } = window.aqa;
  const $ = id => document.getElementById(id);
  const COUNT_UP_MS = 700;

  // Theme from query parameters.
  const theme = { accent: '--aqa-accent', panel: '--aqa-panel', text: '--aqa-text', low: '--aqa-low', high: '--aqa-high', font: '--aqa-font' };
  for (const [key, variable] of Object.entries(theme)) {
    if (params.get(key)) { document.documentElement.style.setProperty(variable, params.get(key)); }
  }

  let followed = params.get('performance');       // a fixed performance, or null: follow the latest one
  const competition = params.get('competition');
  let shown = null;                               // the performance on screen
  let displayed = 0, from = 0, to = 0, startedAt = 0, animating = false;
  window.aqaPaints = [];                          // paint records for latency figures: {clipsSeen, total, receivedAtMs, scoredAtMs, paintedAtMs}

  function colour(contribution, max) {
    // From --aqa-low (small contribution) to --aqa-high (the largest so far).
    const t = max > 0 ? Math.max(0, Math.min(1, contribution / max)) : 0;
    return `color-mix(in srgb, var(--aqa-high) ${Math.round(t * 100)}%, var(--aqa-low))`;
  }

  function countUp(now) {
    const t = Math.min(1, (now - startedAt) / COUNT_UP_MS);
    displayed = from + (to - from) * (1 - Math.pow(1 - t, 3));
    $('score').textContent = fmt(displayed);
    if (t < 1) { requestAnimationFrame(countUp); } else { animating = false; }
  }

  function render(p, kind) {
    if (!p) { return; }
    shown = p.performanceId;
    $('athlete').textContent = p.athlete || p.performanceId;
    $('score-label').textContent = (p.status === 'ended' ? 'final ' : 'est. ') + (p.target || 'TES');
    const clips = p.clips || [];
    const markers = $('markers');
    const max = clips.reduce((m, c) => Math.max(m, c.contribution), 0);
    while (markers.children.length > clips.length) { markers.removeChild(markers.lastChild); }
    clips.forEach((c, i) => {
      let dot = markers.children[i];
      if (!dot) { dot = document.createElement('div'); dot.className = 'marker'; markers.appendChild(dot); }
      dot.style.background = colour(c.contribution, max);
      dot.classList.toggle('latest', i === clips.length - 1);
      dot.title = `clip ${c.clipIndex}: weight ${fmt(c.weight, 3)}, score ${fmt(c.score)}`;
    });
    const last = clips[clips.length - 1];
    $('latest-clip').textContent = last ? last.clipIndex : '–';
    $('latest-weight').textContent = last ? fmt(last.weight, 3) : '–';
    $('latest-score').textContent = last ? fmt(last.score) : '–';
    const target = p.provisional ? p.provisional.total : null;
    const scoreEl = $('score');
    if (target == null) { scoreEl.textContent = '–'; scoreEl.dataset.target = ''; return; }
    if (String(target) !== scoreEl.dataset.target) {
      scoreEl.dataset.target = String(target);
      scoreEl.dataset.clips = String(p.provisional.clipsSeen);
      from = displayed; to = target; startedAt = performance.now();
      if (!animating) { animating = true; requestAnimationFrame(countUp); }
      const record = { clipsSeen: p.provisional.clipsSeen, total: target, receivedAtMs: p.provisional.receivedAtMs, scoredAtMs: p.provisional.timestampMs, kind };
      requestAnimationFrame(() => {
        record.paintedAtMs = Date.now();
        window.aqaPaints.push(record);
        if (window.aqaPaints.length > 2000) { window.aqaPaints.shift(); }
      });
    }
  }

  function onChange(p, kind, board) {
    if (followed) { if (p.performanceId === followed) { render(p, kind); } return; }
    // Following the latest: switch when a newer performance starts.
    const latest = board.latest();
    if (latest && (latest.performanceId === p.performanceId || latest.performanceId !== shown)) { render(latest, kind); }
  }

  const session = window.aqa.live(connection => followed ? connection.invoke('Subscribe', followed)
    : competition ? connection.invoke('SubscribeCompetition', competition) : connection.invoke('SubscribeAll'),
  { change: onChange });

  // Template functions (CasparCG: update / play / stop / next; SPX uses the same names).
  window.update = function (data) {
    const d = typeof data === 'string' ? (data.trim().startsWith('{') ? JSON.parse(data) : {}) : (data || {});
    if (d.performance || d.performanceId) { followed = d.performance || d.performanceId; }
    for (const [key, variable] of Object.entries(theme)) { if (d[key]) { document.documentElement.style.setProperty(variable, d[key]); } }
    const p = followed ? session.board.get(followed) : session.board.latest();
    if (p) { render(p, 'update'); }
  };
  window.play = function () { $('graphic').classList.remove('hidden'); };
  window.stop = function () { $('graphic').classList.add('hidden'); };
  window.next = function () {
    // Step to the next performance the overlay knows (in start order), then back to following the latest.
    const all = [...session.board.performances.values()].sort((a, b) => (a.startedAtMs || 0) - (b.startedAtMs || 0));
    const i = all.findIndex(p => p.performanceId === shown);
    const nextOne = all[i + 1];
    followed = nextOne ? nextOne.performanceId : null;
    render(nextOne || session.board.latest(), 'next');
  };
  window.aqaOverlay = session;
  if (params.get('template') !== '1') { window.play(); }
})();
