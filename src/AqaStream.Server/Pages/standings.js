// The standings graphic: the competition's final scores ranked (rank, athlete, nation, score, behind the leader), the
// newest final highlighted, and who is on the ice with the estimate so far. ?competition=NAME (default: the newest
// performance's competition), ?target=TES|PCS (default: that performance's), ?rows=N per page (default 10).
// A browser source, or a CasparCG / SPX template (?template=1: waits for play(); update(json) takes
// {"competition", "target", "rows"}; next() shows the next page; stop() hides it).
(function () {
  'use strict';
  const { params, fmt } = window.aqa;
  const $ = id => document.getElementById(id);
  window.aqa.applyTheme(key => params.get(key));
  window.aqa.takeTokenFromUrl(true);   // ?token=OVERLAY_TOKEN where results are not public
  let competition = params.get('competition');
  let target = params.get('target');
  let perPage = Math.max(1, Number(params.get('rows')) || 10);
  let page = 0;

  // Finals of one competition and target, best first; ties share a rank.
  function standings(board) {
    const latest = board.latest();
    const comp = competition || (latest && latest.competition) || null;
    const tgt = target || (latest && latest.target) || 'TES';
    const all = [...board.performances.values()].filter(p => (p.competition || null) === comp && (p.target || 'TES') === tgt);
    const finals = all.filter(p => p.status === 'ended' && p.provisional && p.provisional.total != null)
      .sort((a, b) => b.provisional.total - a.provisional.total);
    const rows = finals.map((p, i) => ({ p, rank: i > 0 && finals[i - 1].provisional.total === p.provisional.total ? null : i + 1 }));
    for (let i = 0; i < rows.length; i++) { if (rows[i].rank == null) { rows[i].rank = rows[i - 1].rank; } }
    const live = all.filter(p => p.status !== 'ended').sort((a, b) => (b.startedAtMs || 0) - (a.startedAtMs || 0))[0] || null;
    const newestFinal = finals.reduce((a, b) => (!a || (b.endedAtMs || 0) > (a.endedAtMs || 0) ? b : a), null);
    return { comp, tgt, rows, live, newestFinal };
  }

  function render(board) {
    const s = standings(board);
    $('title').textContent = s.comp || 'Standings';
    $('subtitle').textContent = `${s.tgt} · ${s.rows.length} ${s.rows.length === 1 ? 'athlete' : 'athletes'}`;
    const pages = Math.max(1, Math.ceil(s.rows.length / perPage));
    if (page >= pages) { page = 0; }
    const leader = s.rows.length ? s.rows[0].p.provisional.total : null;
    const body = $('rows');
    body.replaceChildren(...s.rows.slice(page * perPage, (page + 1) * perPage).map(({ p, rank }) => {
      const tr = document.createElement('tr');
      tr.dataset.performance = p.performanceId;
      if (s.newestFinal && p.performanceId === s.newestFinal.performanceId) { tr.className = 'latest'; }
      const behind = p.provisional.total - leader;
      for (const [cls, text] of [['rank', String(rank)], ['name', p.athlete || p.performanceId], ['nation', p.nation || ''],
        ['score', fmt(p.provisional.total)], ['behind', behind < 0 ? fmt(behind) : '']]) {
        const td = document.createElement('td'); td.className = cls; td.textContent = text; tr.appendChild(td);
      }
      return tr;
    }));
    $('page').textContent = pages > 1 ? `${page + 1} / ${pages}` : '';
    const live = s.live;
    if (live && live.provisional && live.provisional.total != null) {
      const rankNow = 1 + s.rows.filter(r => r.p.provisional.total > live.provisional.total).length;
      $('on-ice').textContent = `On the ice: ${live.athlete || live.performanceId}${live.nation ? ' (' + live.nation + ')' : ''} — est. ${fmt(live.provisional.total)}, rank now ${rankNow}`;
    } else {
      $('on-ice').textContent = live ? `On the ice: ${live.athlete || live.performanceId}${live.nation ? ' (' + live.nation + ')' : ''}` : '';
    }
  }

  const session = window.aqa.live(connection => competition ? connection.invoke('SubscribeCompetition', competition) : connection.invoke('SubscribeAll'),
    { change: (p, kind, board) => render(board) });

  window.update = function (data) {
    const d = window.aqa.templateData(data);
    if (d.competition) { competition = d.competition; }
    if (d.target) { target = d.target; }
    if (d.rows) { perPage = Math.max(1, Number(d.rows) || perPage); }
    window.aqa.applyTheme(key => d[key]);
    page = 0;
    render(session.board);
  };
  window.play = function () { $('board').classList.remove('hidden'); };
  window.stop = function () { $('board').classList.add('hidden'); };
  window.next = function () { page++; render(session.board); };
  window.aqaStandings = session;
  if (params.get('template') !== '1') { window.play(); }
})();
