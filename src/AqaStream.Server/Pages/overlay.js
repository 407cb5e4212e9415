// The broadcast overlay: a plain browser source (it plays by itself) or a CasparCG / SPX HTML template
// (?template=1: it waits for play(); update(json), stop() and next() are the template functions).
(function () {
  'use strict';
  const { params, fmt } = window.aqa;
  const $ = id => document.getElementById(id);

  // Theme from query parameters.
  const theme = { accent: '--aqa-accent', panel: '--aqa-panel', text: '--aqa-text', low: '--aqa-low', high: '--aqa-high', font: '--aqa-font' };
  for (const [key, variable] of Object.entries(theme)) {
    if (params.get(key)) { document.documentElement.style.setProperty(variable, params.get(key)); }
  }

  let followed = params.get('performance');       // a fixed performance, or null: follow the latest one
  const competition = params.get('competition');
  let shown = null;                               // the performance on screen
  let flashTimer = 0;
  window.aqaPaints = [];                          // paint records for latency figures: {clipsSeen, total, receivedAtMs, scoredAtMs, paintedAtMs}

  function colour(contribution, max) {
    // From --aqa-low (small contribution) to --aqa-high (the largest so far).
    const t = max > 0 ? Math.max(0, Math.min(1, contribution / max)) : 0;
    return `color-mix(in srgb, var(--aqa-high) ${Math.round(t * 100)}%, var(--aqa-low))`;
  }

  // On air the number is always the shown performance's latest provisional, or "–": it is written at once, never
  // counted up through values that were not scores (a count-up still running after a switch once put the previous
  // athlete's total on screen). A change is marked by a short flash of the box instead (CSS only, no numbers).
  function showScore(p) {
    const scoreEl = $('score');
    const provisional = p.provisional;
    const text = provisional && provisional.total != null ? fmt(provisional.total) : '–';
    const changed = scoreEl.textContent !== text || scoreEl.dataset.performance !== p.performanceId;
    scoreEl.textContent = text;
    scoreEl.dataset.performance = p.performanceId;
    scoreEl.dataset.target = provisional && provisional.total != null ? String(provisional.total) : '';
    scoreEl.dataset.clips = provisional ? String(provisional.clipsSeen) : '0';
    if (!changed || !provisional) { return; }
    const box = $('score-box');
    box.classList.remove('flash');
    clearTimeout(flashTimer);
    void box.offsetWidth;   // restart the CSS animation
    box.classList.add('flash');
    flashTimer = setTimeout(() => box.classList.remove('flash'), 700);
  }

  function render(p, kind) {
    if (!p) { return; }
    shown = p.performanceId;
    $('athlete').textContent = p.athlete || p.performanceId;
    $('score-label').textContent = (p.status === 'ended' ? 'final ' : 'est. ') + (p.target || 'TES');
    // The clips the provisional on screen covers (a clip push may arrive just before its provisional).
    const covered = p.provisional ? p.provisional.clipsSeen : 0;
    const clips = p.status === 'ended' ? (p.clips || []) : (p.clips || []).slice(0, covered);
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
    markers.dataset.count = String(clips.length);
    const last = clips[clips.length - 1];
    $('latest-clip').textContent = last ? last.clipIndex : '–';
    $('latest-weight').textContent = last ? fmt(last.weight, 3) : '–';
    $('latest-score').textContent = last ? fmt(last.score) : '–';
    const before = $('score').dataset.target;
    showScore(p);
    const target = p.provisional ? p.provisional.total : null;
    if (target != null && String(target) !== before) {
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
