// The broadcast overlay (score bug): athlete and nation, the provisional score, the rank it would give now and the
// difference to the competition's leader, a strip with one marker per clip coloured by contribution, the latest clip's
// weight and score (and, when the model sees a likely fall in it, its expected deduction). A final is held on screen for ?hold=SECONDS (default 8) before the next athlete's graphic takes
// over. A plain browser source (OBS, vMix: it plays by itself) or a CasparCG / SPX HTML template (?template=1: it
// waits for play(); update(json), stop() and next() are the template functions).
(function () {
  'use strict';
  const { params, fmt, likelyFall } = window.aqa;
  const $ = id => document.getElementById(id);

  // Theme from query parameters.
  window.aqa.applyTheme(key => params.get(key));

  window.aqa.takeTokenFromUrl(true);   // ?token=OVERLAY_TOKEN where results are not public
  let followed = params.get('performance');       // a fixed performance, or null: follow the latest one
  const competition = params.get('competition');
  let shown = null;                               // the performance on screen
  let flashTimer = 0, holdTimer = 0;
  let holdMs = seconds(params.get('hold'), 8) * 1000;
  const ordinal = n => n + (n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th'));

  function seconds(value, fallback) {
    const n = Number(value);
    return value != null && value !== '' && Number.isFinite(n) && n >= 0 ? n : fallback;
  }

  // Rank the shown score would have among the finals of its competition (same target), and the leader to beat.
  function standing(p, board) {
    if (!p.provisional || p.provisional.total == null) { return null; }
    const mine = p.provisional.total;
    const others = [...board.performances.values()].filter(o => o.performanceId !== p.performanceId && o.competition === p.competition
      && o.target === p.target && o.status === 'ended' && o.provisional && o.provisional.total != null);
    if (others.length === 0) { return { rank: 1, field: 1, leader: null }; }
    const leader = others.reduce((a, b) => (b.provisional.total > a.provisional.total ? b : a));
    return { rank: 1 + others.filter(o => o.provisional.total > mine).length, field: others.length + 1, leader, diff: mine - leader.provisional.total };
  }

  function showStanding(p, board) {
    const s = standing(p, board);
    const ended = p.status === 'ended';
    $('rank').textContent = s ? (ended ? `${ordinal(s.rank)} of ${s.field}` : `rank now ${s.rank}`) : '';
    const leader = $('leader');
    leader.classList.toggle('ahead', !!(s && s.leader && s.diff >= 0));
    leader.textContent = !s || !s.leader ? '' : s.diff >= 0 ? `leads by ${fmt(s.diff)}`
      : `${fmt(-s.diff)} behind ${s.leader.athlete || s.leader.performanceId}`;
  }
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
    $('nation').textContent = p.nation || '';
    $('competition').textContent = p.competition || '';
    $('graphic').classList.toggle('final', p.status === 'ended');
    $('score-label').textContent = (p.status === 'ended' ? 'final ' : 'est. ') + (p.target || 'TES');
    // The clips the provisional on screen covers (a clip and its provisional arrive in one push; this keeps it so).
    const covered = p.provisional ? p.provisional.clipsSeen : 0;
    const clips = p.status === 'ended' ? (p.clips || []) : (p.clips || []).slice(0, covered);
    const markers = $('markers');
    const max = clips.reduce((m, c) => Math.max(m, c.contribution), 0);
    markers.classList.toggle('dense', clips.length > 60);
    while (markers.children.length > clips.length) { markers.removeChild(markers.lastChild); }
    clips.forEach((c, i) => {
      let dot = markers.children[i];
      if (!dot) { dot = document.createElement('div'); dot.className = 'marker'; markers.appendChild(dot); }
      dot.style.background = colour(c.contribution, max);
      dot.classList.toggle('latest', i === clips.length - 1);
      dot.title = `clip ${c.clipIndex}: weight ${fmt(c.weight, 3)}, score ${fmt(c.score)}` + (c.deduction ? `, deduction ${fmt(c.deduction)}` : '');
      dot.classList.toggle('fall', likelyFall(c));
    });
    markers.dataset.count = String(clips.length);
    const last = clips[clips.length - 1];
    $('latest-clip').textContent = last ? last.clipIndex : '–';
    $('latest-weight').textContent = last ? fmt(last.weight, 3) : '–';
    $('latest-score').textContent = last ? fmt(last.score) : '–';
    // A fall is its own penalty, not an execution score: shown beside the clip's score, for that clip only.
    $('latest-deduction-box').hidden = !likelyFall(last);
    $('latest-deduction').textContent = likelyFall(last) ? fmt(last.deduction) : '';
    const before = $('score').dataset.target;
    showScore(p);
    showStanding(p, window.aqaOverlay ? window.aqaOverlay.board : { performances: new Map() });
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

  // What to show when following the latest: the newest performance, except that a final stays on screen for the hold
  // time while the next athlete has no score yet. Decided from the state and the clock alone, so a reload shows the same.
  function pick(board) {
    const latest = board.latest();
    if (!latest || (latest.provisional && latest.provisional.total != null) || holdMs <= 0) { return latest; }
    const now = Date.now();
    let held = null;
    for (const p of board.performances.values()) {
      if (p !== latest && p.status === 'ended' && p.endedAtMs && now - p.endedAtMs < holdMs && (!held || p.endedAtMs > held.endedAtMs)) { held = p; }
    }
    if (held) {
      clearTimeout(holdTimer);
      holdTimer = setTimeout(() => { const p = pick(board); if (p) { render(p, 'hold-over'); } }, held.endedAtMs + holdMs - now + 20);
      return held;
    }
    return latest;
  }

  function onChange(p, kind, board) {
    if (followed) {
      if (p.performanceId === followed) { render(p, kind); } else if (board.get(followed)) { showStanding(board.get(followed), board); }
      return;
    }
    const chosen = pick(board);
    if (chosen) { render(chosen, kind); }
  }

  const session = window.aqa.live(connection => followed ? connection.invoke('Subscribe', followed)
    : competition ? connection.invoke('SubscribeCompetition', competition) : connection.invoke('SubscribeAll'),
  { change: onChange });

  // Template functions (CasparCG: update / play / stop / next; SPX uses the same names).
  window.update = function (data) {
    const d = window.aqa.templateData(data);
    if (d.performance || d.performanceId) { followed = d.performance || d.performanceId; }
    if (d.hold != null) { holdMs = seconds(d.hold, holdMs / 1000) * 1000; }
    window.aqa.applyTheme(key => d[key]);
    const p = followed ? session.board.get(followed) : pick(session.board);
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
    render(nextOne || pick(session.board), 'next');
  };
  window.aqaOverlay = session;
  if (params.get('template') !== '1') { window.play(); }
})();
