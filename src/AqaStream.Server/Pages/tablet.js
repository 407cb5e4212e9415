// The judge tablet: timeline of clip weights, clip scores and the running total (Figure 1 of the paper), tap a clip
// for its time range, middle-frame thumbnail, weight, score, contribution and attention; panel score entry.
(function () {
  'use strict';
  const { api, fmt } = window.aqa;
  const $ = id => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  let session = null, selectedPerformance = null, selectedClip = null, thumbUrl = null, userChose = false;
  const wanted = window.aqa.params.get('performance');

  function showLogin(reason) {
    $('login').hidden = false; $('main').hidden = true;
    $('login-reason').textContent = reason;
  }

  // The token comes from the sign-in form and is kept in this browser only; a link that still carries ?token= is
  // taken once and the address bar cleaned at once (a URL ends up in histories, logs and screenshots).
  const SCORE_SCALE = [0, 100];   // execution points: a clip score outside it is flagged, not silently drawn
  window.aqa.takeTokenFromUrl();
  $('login-form').addEventListener('submit', ev => {
    ev.preventDefault();
    window.aqa.setToken($('token-input').value.trim());
    location.reload();
  });
  $('sign-out').addEventListener('click', () => { window.aqa.setToken(''); location.reload(); });

  async function authorise() {
    const me = await api('/api/me');
    if (me.status === 401) { showLogin('This view needs a judge token: the server refused the one given (or none was given).'); return false; }
    const role = me.ok ? (await me.json()).role : 'unknown';
    if (role !== 'judge' && role !== 'operator') { showLogin(`This view needs a judge token; this token has the role "${role}".`); return false; }
    $('login').hidden = true; $('main').hidden = false; $('sign-out').hidden = false;
    return true;
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) { e.setAttribute(k, v); }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function niceStep(range, ticks) {
    const raw = range / Math.max(1, ticks);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 2.5, 5, 10].map(m => m * mag).find(m => m >= raw) || raw;
  }

  const beyond = c => c.score < SCORE_SCALE[0] || c.score > SCORE_SCALE[1];

  // Figure 1 of the paper at a true aspect ratio: time (s) across; clip scores and the running total on the left axis
  // (points); clip weights as bars on the right axis (weight, the share of the performance's score).
  function draw(p) {
    const svg = $('timeline');
    svg.replaceChildren();
    const clips = p.clips || [];
    const H = 360, top = 36, bottom = 310, left = 64, right = 930;
    svg.appendChild(el('line', { x1: left, y1: bottom, x2: right, y2: bottom, class: 'axis' }));
    svg.appendChild(el('line', { x1: left, y1: top, x2: left, y2: bottom, class: 'axis' }));
    svg.appendChild(el('line', { x1: right, y1: top, x2: right, y2: bottom, class: 'axis' }));
    if (clips.length === 0) { svg.appendChild(el('text', { x: left + 10, y: 160 }, 'No clip scored yet')); return; }
    const end = Math.max(...clips.map(c => c.end));
    const x = t => left + (right - left) * t / end;
    const maxW = Math.max(...clips.map(c => c.weight), 1e-9);
    const scores = clips.map(c => c.score);
    const totals = clips.map(c => c.provisionalAfter).filter(v => v != null);
    const lo = Math.min(0, ...scores, ...totals), hiRaw = Math.max(1, ...scores, ...totals);
    const yStep = niceStep(hiRaw - lo, 5);
    const hi = Math.ceil(hiRaw / yStep) * yStep;
    const y = v => bottom - (bottom - top) * (v - lo) / (hi - lo);
    const wTop = niceStep(maxW, 4) * 4;
    const yw = w => bottom - (bottom - top) * w / wTop;
    // left axis: points
    for (let v = Math.ceil(lo / yStep) * yStep; v <= hi + 1e-9; v += yStep) {
      svg.appendChild(el('line', { x1: left, y1: y(v), x2: right, y2: y(v), class: 'grid' }));
      svg.appendChild(el('text', { x: left - 8, y: y(v) + 5, 'text-anchor': 'end' }, fmt(v, yStep < 1 ? 1 : 0)));
    }
    svg.appendChild(el('text', { x: left, y: top - 16, class: 'unit', 'text-anchor': 'middle' }, 'points'));
    // right axis: weight
    const wStep = wTop / 4;
    for (let i = 0; i <= 4; i++) {
      svg.appendChild(el('text', { x: right + 8, y: yw(i * wStep) + 5 }, fmt(i * wStep, wStep < 0.01 ? 4 : 3)));
    }
    svg.appendChild(el('text', { x: right, y: top - 16, class: 'unit', 'text-anchor': 'middle' }, 'weight'));
    // time axis: seconds
    const tStep = niceStep(end, 8);
    for (let t = 0; t <= end + 1e-9; t += tStep) {
      svg.appendChild(el('line', { x1: x(t), y1: bottom, x2: x(t), y2: bottom + 6, class: 'axis' }));
      svg.appendChild(el('text', { x: x(t), y: bottom + 22, 'text-anchor': 'middle' }, fmt(t, tStep < 1 ? 1 : 0)));
    }
    svg.appendChild(el('text', { x: (left + right) / 2, y: H - 6, class: 'unit', 'text-anchor': 'middle' }, 'time (s)'));
    clips.forEach(c => {
      const h = bottom - yw(c.weight);
      svg.appendChild(el('rect', { x: x(c.start), y: bottom - h, width: Math.max(1, x(c.end) - x(c.start) - 1), height: h, class: 'bar' }));
    });
    const path = clips.filter(c => c.provisionalAfter != null).map((c, i) => `${i ? 'L' : 'M'}${x(c.end).toFixed(1)},${y(c.provisionalAfter).toFixed(1)}`).join(' ');
    if (path) { svg.appendChild(el('path', { d: path, class: 'total' })); }
    clips.forEach(c => {
      const cx = (x(c.start) + x(c.end)) / 2;
      svg.appendChild(el('circle', { cx, cy: y(c.score), r: 4, class: 'score' }));
      if (beyond(c)) { svg.appendChild(el('circle', { cx, cy: y(c.score), r: 8, class: 'beyond', 'data-clip': c.clipIndex })); }
      // A likely fall: a marker above the plot at its clip (its deduction is a penalty of its own, not a clip score).
      if (window.aqa.likelyFall(c)) { svg.appendChild(el('text', { x: cx, y: top - 4, 'text-anchor': 'middle', class: 'fall', 'data-clip': c.clipIndex }, '▼')); }
    });
    clips.forEach(c => {
      const hit = el('rect', { x: x(c.start), y: top, width: Math.max(2, x(c.end) - x(c.start)), height: bottom - top,
        class: 'hit' + (c.clipIndex === selectedClip ? ' selected' : ''), 'data-clip': c.clipIndex });
      hit.addEventListener('click', () => openClip(c.clipIndex));
      svg.appendChild(hit);
    });
  }

  // What the model says about a clip, for every kind of model: its weight and score against the performance's mean
  // (a clip-local model attends only to its own clip, so "attended 100 %" would say nothing).
  function compared(p, c) {
    const clips = p.clips || [];
    const n = clips.length;
    const meanW = clips.reduce((a, k) => a + k.weight, 0) / n;
    const meanS = clips.reduce((a, k) => a + k.score, 0) / n;
    const rankW = 1 + clips.filter(k => k.weight > c.weight).length;
    const ds = c.score - meanS;
    return `weight ${fmt(c.weight / meanW, 2)}× the mean (${rankW} of ${n} by weight); score ${ds >= 0 ? '+' : '−'}${fmt(Math.abs(ds))} vs the mean clip score ${fmt(meanS)}`;
  }

  function attended(c) {
    const list = c.topAttended || [];
    if (list.length === 0) { return '–'; }
    const top = list[0];
    if (top.clipIndex === c.clipIndex && top.attention >= 0.95) { return 'its own clip only (this model scores each clip from its own video)'; }
    return list.filter(a => a.attention >= 0.005).map(a => `clip ${a.clipIndex} (${fmt(a.attention * 100, 0)}%)`).join(', ');
  }

  async function openClip(index) {
    const p = session.board.get(selectedPerformance);
    const c = p && p.clips.find(k => k.clipIndex === index);
    if (!c) { return; }
    selectedClip = index;
    $('clip').hidden = false;
    $('clip-index').textContent = c.clipIndex;
    $('clip-time').textContent = `${fmt(c.start)}–${fmt(c.end)} s`;
    $('clip-weight').textContent = fmt(c.weight, 4);
    $('clip-score').textContent = fmt(c.score);
    // Expected deduction (points): 0 means none expected, or a model without a deduction term.
    $('clip-deduction').textContent = c.deduction ? fmt(c.deduction) + (window.aqa.likelyFall(c) ? ' (likely fall)' : '') : '–';
    $('clip-contribution').textContent = fmt(c.contribution, 3);
    $('clip-attended').textContent = attended(c);
    $('clip-compared').textContent = compared(p, c);
    $('clip-flag').hidden = !beyond(c);
    $('clip-flag').textContent = beyond(c) ? `This clip's score is outside the ${SCORE_SCALE[0]}–${SCORE_SCALE[1]} scale: the model is extrapolating here.` : '';
    draw(p);
    const response = await api(`/api/performances/${encodeURIComponent(p.performanceId)}/clips/${index}/thumbnail.png`);
    if (thumbUrl) { URL.revokeObjectURL(thumbUrl); thumbUrl = null; }
    if (response.ok) { thumbUrl = URL.createObjectURL(await response.blob()); $('thumb').src = thumbUrl; } else { $('thumb').removeAttribute('src'); }
  }

  function step(delta) {
    const p = session.board.get(selectedPerformance);
    if (!p || !p.clips.length) { return; }
    const i = p.clips.findIndex(c => c.clipIndex === selectedClip);
    const next = p.clips[Math.max(0, Math.min(p.clips.length - 1, (i < 0 ? 0 : i + delta)))];
    openClip(next.clipIndex);
  }
  $('prev').addEventListener('click', () => step(-1));
  $('next').addEventListener('click', () => step(1));

  function render() {
    const p = session.board.get(selectedPerformance);
    if (!p) { return; }
    $('athlete').textContent = p.athlete || p.performanceId;
    $('model-score').textContent = p.provisional ? fmt(p.provisional.total) : '–';
    $('model-state').textContent = p.provisional ? (p.provisional.final ? 'final' : `provisional, ${p.provisional.clipsSeen} clips`) : '';
    $('panel-score').textContent = p.panel ? fmt(p.panel.score) : '–';
    const diff = p.panel && p.provisional ? p.provisional.total - p.panel.score : null;
    $('model-minus-panel').textContent = diff == null ? '–' : (diff >= 0 ? '+' : '−') + fmt(Math.abs(diff));
    draw(p);
  }

  function refreshPicker() {
    const select = $('performance');
    const all = [...session.board.performances.values()].sort((a, b) => (b.startedAtMs || 0) - (a.startedAtMs || 0));
    const ids = all.map(p => p.performanceId).join('|');
    if (select.dataset.ids !== ids) {
      select.dataset.ids = ids;
      select.replaceChildren(...all.map(p => { const o = document.createElement('option'); o.value = p.performanceId; o.textContent = `${p.athlete || p.performanceId} (${p.status})`; return o; }));
    }
    if (!selectedPerformance && all.length) { selectedPerformance = wanted && session.board.get(wanted) ? wanted : all[0].performanceId; }
    select.value = selectedPerformance || '';
  }
  $('performance').addEventListener('change', ev => { userChose = true; selectedPerformance = ev.target.value; selectedClip = null; $('clip').hidden = true; render(); });

  $('panel-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const score = Number($('panel-input').value);
    const response = await api(`/api/performances/${encodeURIComponent(selectedPerformance)}/panel-score`,
      { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ score }) });
    if (!response.ok) { const problem = await response.json().catch(() => ({})); alert(problem.detail || problem.error || `refused (${response.status})`); }
  });

  (async function main() {
    if (!(await authorise())) { return; }
    session = window.aqa.live(connection => connection.invoke('SubscribeAll'), {
      change: (p, kind, board) => {
        // Until the judge picks one, show the newest performance (the one on the ice).
        const latest = board.latest();
        if (!wanted && !userChose && latest && latest.performanceId !== selectedPerformance) {
          selectedPerformance = latest.performanceId; selectedClip = null; $('clip').hidden = true;
        }
        refreshPicker();
        if (p.performanceId === selectedPerformance) { render(); }
      },
      stale: s => { $('conn').textContent = s ? 'reconnecting…' : 'live'; },
    });
    window.aqaTablet = session;
  })();
})();
