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

  $('login-form').addEventListener('submit', ev => {
    ev.preventDefault();
    try { localStorage.setItem('aqa.token', $('token-input').value.trim()); } catch (e) { /* ignore */ }
    location.search = '';
  });

  async function authorise() {
    const me = await api('/api/me');
    if (me.status === 401) { showLogin('This view needs a judge token: the server refused the one given (or none was given).'); return false; }
    const role = me.ok ? (await me.json()).role : 'unknown';
    if (role !== 'judge' && role !== 'operator') { showLogin(`This view needs a judge token; this token has the role "${role}".`); return false; }
    $('login').hidden = true; $('main').hidden = false;
    return true;
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) { e.setAttribute(k, v); }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function draw(p) {
    const svg = $('timeline');
    svg.replaceChildren();
    const clips = p.clips || [];
    const W = 1000, H = 320, top = 16, bottom = 290, left = 40, right = 960;
    svg.appendChild(el('line', { x1: left, y1: bottom, x2: right, y2: bottom, class: 'axis' }));
    if (clips.length === 0) { svg.appendChild(el('text', { x: left + 10, y: 150 }, 'No clip scored yet')); return; }
    const end = Math.max(...clips.map(c => c.end));
    const x = t => left + (right - left) * t / end;
    const maxW = Math.max(...clips.map(c => c.weight), 1e-9);
    const scores = clips.map(c => c.score);
    const totals = clips.map(c => c.provisionalAfter).filter(v => v != null);
    const lo = Math.min(0, ...scores, ...totals), hi = Math.max(1, ...scores, ...totals);
    const y = v => bottom - (bottom - top) * (v - lo) / (hi - lo);
    clips.forEach(c => {
      const h = (bottom - top) * 0.6 * c.weight / maxW;
      svg.appendChild(el('rect', { x: x(c.start), y: bottom - h, width: Math.max(1, x(c.end) - x(c.start) - 1), height: h, class: 'bar' }));
    });
    const path = clips.filter(c => c.provisionalAfter != null).map((c, i) => `${i ? 'L' : 'M'}${x(c.end).toFixed(1)},${y(c.provisionalAfter).toFixed(1)}`).join(' ');
    if (path) { svg.appendChild(el('path', { d: path, class: 'total' })); }
    clips.forEach(c => svg.appendChild(el('circle', { cx: (x(c.start) + x(c.end)) / 2, cy: y(c.score), r: 4, class: 'score' })));
    clips.forEach(c => {
      const hit = el('rect', { x: x(c.start), y: top, width: Math.max(2, x(c.end) - x(c.start)), height: bottom - top,
        class: 'hit' + (c.clipIndex === selectedClip ? ' selected' : ''), 'data-clip': c.clipIndex });
      hit.addEventListener('click', () => openClip(c.clipIndex));
      svg.appendChild(hit);
    });
    svg.appendChild(el('text', { x: left, y: H - 6 }, '0 s'));
    svg.appendChild(el('text', { x: right - 40, y: H - 6 }, `${fmt(end, 1)} s`));
    svg.appendChild(el('text', { x: right + 4, y: y(hi) + 12 }, fmt(hi, 0)));
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
    $('clip-contribution').textContent = fmt(c.contribution, 3);
    $('clip-attended').textContent = (c.topAttended || []).map(a => `clip ${a.clipIndex} (${fmt(a.attention * 100, 0)}%)`).join(', ') || '–';
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
    if (!response.ok) { alert((await response.json()).error); }
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
