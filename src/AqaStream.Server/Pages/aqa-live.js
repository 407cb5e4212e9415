// Shared by the overlay and the tablet: token handling, the SignalR connection that never gives up, and the
// client-side model of performances built from snapshots and pushes.
/* global signalR */
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);

  // The bearer token: kept in this browser's storage (or memory where storage is off), never in the page address.
  let memoryToken = '';
  function token() {
    if (memoryToken) { return memoryToken; }
    try { return localStorage.getItem('aqa.token') || ''; } catch (e) { return ''; }
  }
  function setToken(t) {
    memoryToken = t || '';
    try { if (t) { localStorage.setItem('aqa.token', t); } else { localStorage.removeItem('aqa.token'); } } catch (e) { /* private mode */ }
  }
  // A ?token= in the address is taken and the address cleaned. The tablet stores it (links made before its sign-in
  // form still work once); broadcast pages (a browser source's URL is its only setting) keep it in memory only.
  function takeTokenFromUrl(keepInMemoryOnly) {
    const t = params.get('token');
    if (!t) { return; }
    if (keepInMemoryOnly) { memoryToken = t; } else { setToken(t); }
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }

  async function api(path, options) {
    const headers = Object.assign({ 'Accept': 'application/json' }, (options && options.headers) || {});
    const t = token();
    if (t) { headers.Authorization = 'Bearer ' + t; }
    const response = await fetch(path, Object.assign({}, options, { headers }));
    return response;
  }

  // Backoff for reconnects: 0.25 s doubling to 10 s, with jitter; never gives up (a venue's network comes back).
  function delay(attempt) { return Math.min(10000, 250 * Math.pow(2, attempt)) * (0.8 + 0.4 * Math.random()); }

  // Performances as the server describes them (PerformanceView), kept up to date from pushes.
  class Board {
    constructor() { this.performances = new Map(); }
    // A snapshot can arrive after pushes that are newer than it (the subscription's answer races the first pushes):
    // never let it take the score back. Progress is (ended, clips seen); the newer side keeps its score and clips.
    put(view) {
      const known = this.performances.get(view.performanceId);
      if (known && Board.progress(known) > Board.progress(view)) {
        const merged = Object.assign({}, view, { provisional: known.provisional, clips: known.clips, status: known.status, endedAtMs: known.endedAtMs });
        this.performances.set(view.performanceId, merged);
        return merged;
      }
      this.performances.set(view.performanceId, view);
      return view;
    }
    static progress(p) {
      const pr = p.provisional;
      return (p.status === 'ended' || (pr && pr.final) ? 1e9 : 0) + (pr ? pr.clipsSeen : 0);
    }
    get(id) { return this.performances.get(id); }
    latest() {
      let best = null;
      for (const p of this.performances.values()) {
        if (!best || (p.startedAtMs || 0) >= (best.startedAtMs || 0)) { best = p; }
      }
      return best;
    }
    ensure(id) {
      let p = this.performances.get(id);
      if (!p) { p = { performanceId: id, clips: [], status: 'live' }; this.performances.set(id, p); }
      return p;
    }
    // A provisional replaces the shown one only when it is newer (a final, or more clips seen or declared missing).
    provisional(id, provisional) {
      const p = this.ensure(id);
      if (Board.newer(provisional, p.provisional)) { p.provisional = provisional; }
      return p;
    }
    // A scored clip arrives with the provisional right after it: one push, one change, no joining by position.
    scored(id, clip, provisional) {
      const p = this.ensure(id);
      if (!Board.newer(provisional, p.provisional)) { return p; }
      const i = p.clips.findIndex(c => c.clipIndex === clip.clipIndex);
      if (i >= 0) { p.clips[i] = clip; } else { p.clips.push(clip); p.clips.sort((a, b) => a.clipIndex - b.clipIndex); }
      p.provisional = provisional;
      return p;
    }
    static newer(provisional, shown) {
      if (!shown) { return true; }
      if (shown.final) { return false; }
      const steps = q => q.clipsSeen + (q.missingClips ? q.missingClips.length : 0);
      return provisional.final || steps(provisional) > steps(shown);
    }
    panel(id, panel) { const p = this.ensure(id); p.panel = panel; return p; }
  }

  // Connects to the hub, subscribes (again after every reconnect: the server sends fresh snapshots), and calls
  // handlers.change(performance, kind) on every update and handlers.stale(bool) when the connection drops or returns.
  function live(subscribe, handlers) {
    const board = new Board();
    const connection = new signalR.HubConnectionBuilder()
      .withUrl('/hub', { accessTokenFactory: () => token(), transport: signalR.HttpTransportType.WebSockets })
      .withAutomaticReconnect({ nextRetryDelayInMilliseconds: ctx => delay(ctx.previousRetryCount) })
      .withStatefulReconnect()
      .configureLogging(signalR.LogLevel.None)
      .build();
    const change = (p, kind) => { if (handlers.change) { handlers.change(p, kind, board); } };
    connection.on('performanceStarted', v => change(board.put(v), 'started'));
    connection.on('snapshot', v => change(board.put(v), 'snapshot'));
    connection.on('performanceEnded', v => change(board.put(v), 'ended'));
    connection.on('clipScored', m => change(board.scored(m.performanceId, m.clip, m.provisional), 'clip'));
    connection.on('provisionalScore', m => change(board.provisional(m.performanceId, m.provisional), 'provisional'));
    connection.on('panelScore', m => change(board.panel(m.performanceId, m.panel), 'panel'));
    const stale = s => { document.documentElement.classList.toggle('aqa-stale', s); if (handlers.stale) { handlers.stale(s); } };

    async function resubscribe() {
      const result = await subscribe(connection);
      for (const v of (Array.isArray(result) ? result : [result])) { if (v) { change(board.put(v), 'snapshot'); } }
    }
    async function start(attempt) {
      try {
        if (connection.state === signalR.HubConnectionState.Disconnected) { await connection.start(); }
        await resubscribe();
        stale(false);
      } catch (e) {
        stale(true);
        if (handlers.error) { handlers.error(e); }
        setTimeout(() => start(attempt + 1), delay(attempt));
      }
    }
    // After a reconnect the server may be a new one (restarted): subscribe again until it works (a performance the
    // new server does not know yet is an error until it appears), staying "stale" meanwhile.
    async function afterReconnect(attempt) {
      if (connection.state !== signalR.HubConnectionState.Connected) { return; }
      try { await resubscribe(); stale(false); } catch (e) {
        if (handlers.error) { handlers.error(e); }
        setTimeout(() => afterReconnect(attempt + 1), delay(attempt));
      }
    }
    connection.onreconnecting(() => stale(true));
    connection.onreconnected(() => afterReconnect(0));
    connection.onclose(() => { stale(true); setTimeout(() => start(0), delay(0)); });
    stale(true);
    start(0);
    return { board, connection };
  }

  // The broadcast pages' theme: query parameters (or template data) to CSS variables.
  const THEME = { accent: '--aqa-accent', panel: '--aqa-panel', text: '--aqa-text', low: '--aqa-low', high: '--aqa-high', font: '--aqa-font' };
  function applyTheme(get) {
    for (const [key, variable] of Object.entries(THEME)) {
      const value = get(key);
      if (value) { document.documentElement.style.setProperty(variable, value); }
    }
  }

  // A template's data: JSON text (CasparCG sends a string) or an object.
  function templateData(data) {
    return typeof data === 'string' ? (data.trim().startsWith('{') ? JSON.parse(data) : {}) : (data || {});
  }

  function fmt(x, digits) { return x == null || isNaN(x) ? '–' : Number(x).toFixed(digits == null ? 2 : digits); }
  // A likely fall: the server says so per clip (ClipView.likelyFall, from ClipScore.LikelyFallPoints, the threshold the
  // replay report uses too); smaller expected deductions are part of the clip's contribution only.
  const likelyFall = c => c != null && c.likelyFall === true;

  window.aqa = { params, token, setToken, takeTokenFromUrl, applyTheme, templateData, api, live, fmt, likelyFall, Board };
})();
