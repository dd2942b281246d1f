"""CSS and JavaScript of the HTML report (plain strings: no CDN, no framework, no network).

The script reads the JSON block ``#data`` (see :mod:`mspt_pyiqa.compare.html`) and renders,
for the chosen method: the worst and best ``n_extreme`` faces, and a grid sorted by score
(filters: status and score range) shown ``page_size`` cards at a time; with two or more
methods, side-by-side rows of the same face across methods, largest difference between
the chosen pair first. Only the visible page is in the DOM, so 10,000 rows stay fast.
User strings are set with ``textContent`` (never parsed as HTML).
"""

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;margin:6px 0;background:#fff} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left} .note{color:#666;font-size:12px}
.controls{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:6px 0;padding:6px;background:#eef;border-radius:4px}
.grid,.strip{display:flex;flex-wrap:wrap;gap:6px}
.card{margin:0;width:132px;background:#fff;border:1px solid #ddd;border-radius:3px;padding:3px;font-size:11px}
.card img,.card .noimg{width:96px;height:96px;object-fit:contain;display:block;margin:0 auto;background:#eee}
.card .noimg{display:flex;align-items:center;justify-content:center;color:#999}
.card figcaption{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card .score{font-weight:600} .st-bad{color:#b00} .st-no_face,.st-missing{color:#a60}
.row{display:flex;gap:6px;align-items:flex-start;margin:4px 0;padding:4px;background:#fff;border:1px solid #ddd}
.row .info{width:200px;font-size:12px;overflow-wrap:anywhere} .hists{display:flex;flex-wrap:wrap;gap:12px}
button{padding:2px 10px} input[type=number]{width:6em}
"""

JS = r"""
(function () {
  'use strict';
  const D = JSON.parse(document.getElementById('data').textContent);
  const M = D.methods.length, N = D.keys.length, PAGE = D.page_size;
  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmt = (s) => (s === null ? 'n/a' : s.toFixed(4));
  const better = (x, y) => (D.lower_better ? x < y : x > y);
  function card(i, m) {
    const f = el('figure', 'card');
    const st = D.statuses[D.status[m][i]], s = D.scores[m][i], src = D.thumbs[m][i];
    f.dataset.key = D.keys[i]; f.dataset.score = s === null ? '' : String(s); f.dataset.status = st;
    f.title = D.keys[i] + ' (' + D.methods[m] + ')' + (D.messages[m][i] ? ': ' + D.messages[m][i] : '');
    if (src) {
      const img = el('img'); img.loading = 'lazy'; img.decoding = 'async'; img.width = 96; img.height = 96;
      img.alt = D.keys[i]; img.src = src; f.appendChild(img);
    } else f.appendChild(el('div', 'noimg', 'no image'));
    const cap = el('figcaption');
    cap.appendChild(el('span', 'score', fmt(s)));
    cap.appendChild(document.createTextNode(' '));
    cap.appendChild(el('span', st === 'ok' ? 'st-ok' : (st === 'no_face' || st === 'missing' ? 'st-' + st : 'st-bad'), st));
    f.appendChild(cap);
    f.appendChild(el('figcaption', 'key', D.keys[i]));
    return f;
  }
  const state = {m: 0, order: 'desc', lo: null, hi: null, st: new Set(D.statuses), page: 0, a: 0, b: Math.min(1, M - 1), pp: 0};
  function byScore(m, order) {
    return (i, j) => {
      const x = D.scores[m][i], y = D.scores[m][j];
      if (x === null || y === null) return (x === null) - (y === null) || i - j;
      return (order === 'asc' ? x - y : y - x) || i - j;
    };
  }
  function selected() {
    const m = state.m, out = [];
    for (let i = 0; i < N; i++) {
      if (!state.st.has(D.statuses[D.status[m][i]])) continue;
      const s = D.scores[m][i];
      if ((state.lo !== null || state.hi !== null) && s === null) continue;
      if (state.lo !== null && s < state.lo) continue;
      if (state.hi !== null && s > state.hi) continue;
      out.push(i);
    }
    return out.sort(byScore(m, state.order));
  }
  function pager(total, page, size, label, onPage) {
    const box = el('div', 'controls');
    const pages = Math.max(1, Math.ceil(total / size));
    const first = total ? page * size + 1 : 0, last = Math.min(total, (page + 1) * size);
    const prev = el('button', null, '< previous'), next = el('button', null, 'next >');
    prev.disabled = page <= 0; next.disabled = page >= pages - 1;
    prev.onclick = () => onPage(page - 1); next.onclick = () => onPage(page + 1);
    const info = el('span', null, label + ' ' + first + '-' + last + ' of ' + total + ' (page ' + (page + 1) + ' of ' + pages + ')');
    box.append(prev, info, next);
    return box;
  }
  function renderGrid() {
    const idx = selected(), m = state.m;
    const pages = Math.max(1, Math.ceil(idx.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    $('grid-count').textContent = String(idx.length);
    const grid = $('grid'), frag = document.createDocumentFragment();
    for (const i of idx.slice(state.page * PAGE, (state.page + 1) * PAGE)) frag.appendChild(card(i, m));
    grid.replaceChildren(frag);
    $('grid-pager').replaceChildren(pager(idx.length, state.page, PAGE, 'faces', (p) => { state.page = p; renderGrid(); }));
  }
  function renderExtremes() {
    const m = state.m, ok = [];
    for (let i = 0; i < N; i++) if (D.scores[m][i] !== null) ok.push(i);
    const worstFirst = ok.slice().sort(byScore(m, D.lower_better ? 'desc' : 'asc'));
    // with fewer than 2 x n_extreme faces, each list takes half so the two do not repeat each other
    const n = ok.length === 1 ? 1 : Math.min(D.n_extreme, Math.floor(ok.length / 2));
    $('n-worst').textContent = String(n); $('n-best').textContent = String(n);
    $('worst').replaceChildren(...worstFirst.slice(0, n).map((i) => card(i, m)));
    $('best').replaceChildren(...worstFirst.slice(-n).reverse().map((i) => card(i, m)));
  }
  function renderPairs() {
    if (M < 2) return;
    const a = state.a, b = state.b, rows = [];
    for (let i = 0; i < N; i++) {
      const x = D.scores[a][i], y = D.scores[b][i];
      if (x !== null && y !== null) rows.push([i, x - y]);
    }
    rows.sort((r, s) => Math.abs(s[1]) - Math.abs(r[1]) || r[0] - s[0]);
    $('pair-count').textContent = String(rows.length);
    const size = D.pair_page_size, pages = Math.max(1, Math.ceil(rows.length / size));
    state.pp = Math.min(state.pp, pages - 1);
    const frag = document.createDocumentFragment();
    for (const [i, d] of rows.slice(state.pp * size, (state.pp + 1) * size)) {
      const row = el('div', 'row'); row.dataset.key = D.keys[i]; row.dataset.diff = String(d);
      const info = el('div', 'info');
      info.appendChild(el('div', null, D.keys[i]));
      const x = D.scores[a][i], y = D.scores[b][i];
      info.appendChild(el('div', null, D.methods[a] + ' - ' + D.methods[b] + ': ' + (d >= 0 ? '+' : '') + d.toFixed(4)));
      info.appendChild(el('div', 'note', x === y ? 'tie' : (better(x, y) ? D.methods[a] : D.methods[b]) + ' is better'));
      row.appendChild(info);
      for (let m = 0; m < M; m++) {
        const c = card(i, m);
        c.querySelector('.key').textContent = D.methods[m];
        row.appendChild(c);
      }
      frag.appendChild(row);
    }
    $('pairs').replaceChildren(frag);
    $('pair-pager').replaceChildren(pager(rows.length, state.pp, size, 'rows', (p) => { state.pp = p; renderPairs(); }));
  }
  function options(select, value) {
    D.methods.forEach((name, m) => { const o = el('option', null, name); o.value = String(m); select.appendChild(o); });
    select.value = String(value);
  }
  options($('method'), state.m);
  $('method').onchange = (e) => { state.m = +e.target.value; state.page = 0; renderExtremes(); renderGrid(); };
  $('order').onchange = (e) => { state.order = e.target.value; state.page = 0; renderGrid(); };
  const num = (v) => (v.trim() === '' || isNaN(+v) ? null : +v);
  $('lo').oninput = (e) => { state.lo = num(e.target.value); state.page = 0; renderGrid(); };
  $('hi').oninput = (e) => { state.hi = num(e.target.value); state.page = 0; renderGrid(); };
  const sts = $('statuses');
  D.statuses.forEach((s) => {
    const lab = el('label'), cb = el('input');
    cb.type = 'checkbox'; cb.checked = true; cb.value = s; cb.dataset.status = s;
    cb.onchange = () => { if (cb.checked) state.st.add(s); else state.st.delete(s); state.page = 0; renderGrid(); };
    lab.append(cb, document.createTextNode(' ' + s)); sts.appendChild(lab);
  });
  if (M >= 2) {
    options($('pair-a'), state.a); options($('pair-b'), state.b);
    $('pair-a').onchange = (e) => { state.a = +e.target.value; state.pp = 0; renderPairs(); };
    $('pair-b').onchange = (e) => { state.b = +e.target.value; state.pp = 0; renderPairs(); };
  }
  renderExtremes(); renderGrid(); renderPairs();
  document.body.dataset.ready = '1';
})();
"""
