// Tapio incident view. No framework, no build step: plain DOM, inline SVG.
// Data: GET /api/v1/insights -> {"insights": [...], "stats": {...}} (see spec/insights.md).
(() => {
  'use strict';

  const API = (document.querySelector('meta[name="tapio-api"]') || {}).content || '/api/v1/insights';
  const POLL_MS = 5000;
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const $ = (sel) => document.querySelector(sel);

  const state = {
    raw: null,          // last response body, to skip work when nothing changed
    report: null,
    error: null,
    lastOk: null,
    listKey: null,      // signature of the rendered list
    shownKey: null,     // id + JSON of the rendered detail
    sort: 'rank',
  };

  // ---- bearer token: ?token=... is kept (in memory + sessionStorage) and removed from the URL
  let token = null;
  try {
    const u = new URL(location.href);
    token = u.searchParams.get('token');
    if (token) {
      try { sessionStorage.setItem('tapio-token', token); } catch (_) { /* storage disabled */ }
      u.searchParams.delete('token');
      history.replaceState(null, '', u.pathname + u.search + u.hash);
    } else {
      try { token = sessionStorage.getItem('tapio-token'); } catch (_) { token = null; }
    }
  } catch (_) { token = null; }

  // ---- small helpers
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }
  function s(tag, attrs, text) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
    if (text != null) el.textContent = text;
    return el;
  }
  const ms = (t) => { const v = Date.parse(t); return Number.isFinite(v) ? v : NaN; };
  const pad = (n) => String(n).padStart(2, '0');
  const pct = (c) => Math.round((Number(c) || 0) * 100) + '%';
  const level = (c) => (c >= 0.8 ? 'high' : c >= 0.6 ? 'med' : 'low');
  const plural = (n, w, pl) => n + ' ' + (n === 1 ? w : pl || w + 's');

  function entityText(e) {
    if (!e) return 'unknown entity';
    const where = e.namespace ? e.namespace + '/' + (e.name || '?') : (e.name || '?');
    return (e.kind ? e.kind + ' ' : '') + where;
  }
  function fmtAbs(t, withDate = true) {
    const v = ms(t);
    if (!Number.isFinite(v)) return t || '—';
    const d = new Date(v);
    const time = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
    if (!withDate) return time + ' UTC';
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + time + ' UTC';
  }
  function fmtShort(t) {
    const v = ms(t);
    if (!Number.isFinite(v)) return '';
    const d = new Date(v);
    const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
    return mon + ' ' + d.getUTCDate() + ', ' + pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ' UTC';
  }
  // Signed duration, e.g. "−5m 02s" (U+2212 minus), "0s" for the symptom itself.
  function fmtRel(d) {
    if (!Number.isFinite(d)) return '';
    let sec = Math.round(Math.abs(d) / 1000);
    const sign = sec === 0 ? '' : d < 0 ? '\u2212' : '+';
    let out;
    if (sec < 60) out = sec + 's';
    else if (sec < 3600) out = Math.floor(sec / 60) + 'm ' + pad(sec % 60) + 's';
    else if (sec < 86400) out = Math.floor(sec / 3600) + 'h ' + pad(Math.floor(sec / 60) % 60) + 'm';
    else out = Math.floor(sec / 86400) + 'd ' + pad(Math.floor(sec / 3600) % 24) + 'h';
    return sign + out;
  }
  function fmtAgo(t) {
    const v = ms(t);
    if (!Number.isFinite(v)) return '';
    const d = Date.now() - v;
    if (d < -60000) return 'in the future';
    const m = Math.floor(d / 60000);
    if (m < 1) return 'just now';
    if (m < 60) return m + ' min ago';
    if (m < 48 * 60) return Math.floor(m / 60) + ' h ago';
    return Math.floor(m / 1440) + ' d ago';
  }
  function ago(t) { return h('span', { class: 'ago', 'data-at': t || '' }, fmtAgo(t)); }
  function refreshAgo() {
    document.querySelectorAll('.ago').forEach((el) => { el.textContent = fmtAgo(el.dataset.at); });
  }

  // Text measurement for SVG layout (canvas, same fonts as app.css).
  const ctx = document.createElement('canvas').getContext('2d');
  function width(text, font) { ctx.font = font; return ctx.measureText(text).width; }
  function fit(text, maxW, font) {
    text = String(text);
    if (width(text, font) <= maxW) return text;
    let lo = 0, hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (width(text.slice(0, mid) + '…', font) <= maxW) lo = mid; else hi = mid - 1;
    }
    return text.slice(0, lo) + '…';
  }
  function wrap(text, maxW, font, maxLines = 4) {
    const words = String(text).split(/\s+/).filter(Boolean);
    const lines = [];
    let cur = '';
    for (const w of words) {
      const next = cur ? cur + ' ' + w : w;
      if (!cur || width(next, font) <= maxW) cur = next;
      else { lines.push(cur); cur = w; }
    }
    if (cur) lines.push(cur);
    if (lines.length > maxLines) {
      lines.length = maxLines;
      lines[maxLines - 1] = fit(lines[maxLines - 1] + ' …', maxW, font);
    }
    return lines.map((l) => fit(l, maxW, font));
  }

  // ---- data access
  const insights = () => (state.report && Array.isArray(state.report.insights) ? state.report.insights : []);
  const symptomAt = (ins) => (ins.symptom && ins.symptom.at) ||
    (Array.isArray(ins.chain) && ins.chain.length ? ins.chain[ins.chain.length - 1].at : null);
  const workloadOf = (ins) => {
    const rc = ins.root_cause || {};
    const e = (ins.symptom && ins.symptom.entity) || rc.entity || {};
    return { ns: (rc.entity && rc.entity.namespace) || e.namespace || '', wl: rc.workload || (e.kind ? e.kind + '/' + e.name : '') };
  };
  function chainSteps(ins) {
    if (Array.isArray(ins.chain) && ins.chain.length) return ins.chain;
    // No chain in the report: fall back to root cause -> symptom.
    const out = [];
    if (ins.root_cause) out.push({ kind: ins.root_cause.kind, entity: ins.root_cause.entity, at: ins.root_cause.at, evidence: [], why: '' });
    if (ins.symptom) out.push({ kind: ins.symptom.kind, entity: ins.symptom.entity, at: ins.symptom.at, evidence: [], why: '' });
    return out;
  }
  function sorted() {
    const list = insights().map((ins, i) => ({ ins, i }));
    if (state.sort === 'time') {
      list.sort((a, b) => (ms(symptomAt(b.ins)) || 0) - (ms(symptomAt(a.ins)) || 0) || a.i - b.i);
    } else {
      list.sort((a, b) => (b.ins.confidence || 0) - (a.ins.confidence || 0) || a.i - b.i);
    }
    return list.map((x) => x.ins);
  }

  // ---- routing: #/insight/<id>
  function hashId() {
    const m = /^#\/insight\/(.+)$/.exec(location.hash);
    if (!m) return null;
    try { return decodeURIComponent(m[1]); } catch (_) { return m[1]; }
  }
  const linkFor = (id) => '#/insight/' + encodeURIComponent(id);

  // ---- fetch + poll
  async function poll() {
    try {
      const headers = { Accept: 'application/json' };
      if (token) headers.Authorization = 'Bearer ' + token;
      const r = await fetch(API, { headers, cache: 'no-store' });
      if (r.status === 401 || r.status === 403) {
        throw new Error('HTTP ' + r.status + ': the API needs a valid token; open this page with ?token=<token>');
      }
      if (!r.ok) throw new Error('HTTP ' + r.status + (r.statusText ? ' ' + r.statusText : ''));
      const text = await r.text();
      if (text !== state.raw) {
        let report;
        try { report = JSON.parse(text); } catch (e) { throw new Error('the response is not JSON'); }
        if (!report || !Array.isArray(report.insights)) throw new Error('unexpected response: no "insights" array');
        state.raw = text;
        state.report = report;
      }
      state.error = null;
      state.lastOk = new Date();
    } catch (e) {
      state.error = (e && e.message) || String(e);
    }
    render();
    setTimeout(poll, POLL_MS);
  }

  // ---- rendering
  function render() {
    renderStatus();
    if (!state.report) { renderDetail(); return; }
    const list = sorted();
    const cur = hashId();
    if (!cur && list.length) {
      history.replaceState(null, '', location.pathname + location.search + linkFor(list[0].id));
    }
    renderList(list);
    renderDetail();
    refreshAgo();
  }

  function renderStatus() {
    const st = $('#status');
    const banner = $('#banner');
    if (state.error) {
      st.className = 'status bad';
      st.textContent = 'Update failed';
      banner.hidden = !state.report;
      banner.textContent = 'Could not refresh insights (' + state.error + '). Showing the data from ' +
        (state.lastOk ? state.lastOk.toLocaleTimeString() : 'earlier') + '; retrying every 5 s.';
    } else if (state.lastOk) {
      st.className = 'status ok';
      st.textContent = 'Live · updated ' + state.lastOk.toLocaleTimeString();
      banner.hidden = true;
    }
    const stats = state.report && state.report.stats;
    $('#stats').textContent = stats
      ? 'Last analysis: ' + plural(stats.events || 0, 'event') + ' from ' + plural(stats.lines || 0, 'line') +
        (stats.rejected ? ' (' + stats.rejected + ' rejected)' : '') + ', ' + plural(stats.entities || 0, 'entity', 'entities') +
        (stats.elapsed_ms != null ? ', in ' + Number(stats.elapsed_ms).toFixed(1) + ' ms' : '')
      : '';
  }

  function renderList(list) {
    const ol = $('#incidents');
    const sel = hashId();
    const key = state.sort + '|' + sel + '|' + JSON.stringify(list.map((i) => [i.id, i.confidence, i.summary, symptomAt(i)]));
    $('#count').textContent = String(list.length);
    if (key === state.listKey) return;
    state.listKey = key;
    ol.replaceChildren(...list.map((ins) => {
      const rc = ins.root_cause || {};
      const { ns, wl } = workloadOf(ins);
      const at = symptomAt(ins);
      const on = ins.id === sel;
      return h('li', { class: 'incident' + (on ? ' selected' : ''), 'data-id': ins.id },
        h('a', { href: linkFor(ins.id), 'aria-current': on ? 'true' : null },
          h('div', { class: 'row1' },
            h('span', { class: 'conf ' + level(ins.confidence), title: 'confidence' }, pct(ins.confidence)),
            h('span', { class: 'rk' }, rc.kind || 'Unknown'),
            h('span', { class: 'when', title: fmtAbs(at) + ' (' + fmtAgo(at) + ')' }, fmtShort(at))),
          h('div', { class: 'sum' }, ins.summary || ins.pattern || ins.id),
          h('div', { class: 'row3' },
            h('span', { class: 'wl' }, [ns, wl].filter(Boolean).join(' · ') || entityText(rc.entity)),
            ins.symptom && ins.symptom.kind ? h('span', { class: 'sym' }, ins.symptom.kind) : null)));
    }));
  }

  function stateBox(title, text, cls) {
    return h('div', { class: 'state ' + (cls || '') }, h('h2', null, title), text ? h('p', null, text) : null);
  }

  function renderDetail() {
    const host = $('#detail');
    if (!state.report) {
      state.shownKey = null;
      host.replaceChildren(state.error
        ? stateBox('Could not load insights', state.error + '. Retrying every 5 s.', 'error')
        : stateBox('Loading insights…', ''));
      return;
    }
    const all = insights();
    if (!all.length) {
      const st = state.report.stats;
      state.shownKey = 'empty';
      host.replaceChildren(stateBox('No incidents found',
        'Tapio found no incident it can explain' +
        (st ? ' in ' + plural(st.events || 0, 'event') + ' across ' + (st.entities || 0) + ' entities' : '') +
        '. This page refreshes every 5 s.', 'empty'));
      return;
    }
    const id = hashId();
    const ins = all.find((i) => i.id === id);
    if (!ins) {
      state.shownKey = 'missing:' + id;
      host.replaceChildren(stateBox('Incident not found',
        'Incident ' + id + ' is not in the current report: it may have resolved or been superseded. Pick one from the list.', 'empty'));
      return;
    }
    const key = id + '\n' + JSON.stringify(ins);
    if (key === state.shownKey) return; // nothing changed: keep scroll position, open <details>, selection
    state.shownKey = key;
    host.replaceChildren(detailView(ins));
    drawChain(ins);
    host.scrollTop = 0;
  }

  function detailView(ins) {
    const rc = ins.root_cause || {};
    const sym = ins.symptom || {};
    const affected = Array.isArray(ins.affected) ? ins.affected : [];
    const { wl } = workloadOf(ins);
    const symAt = symptomAt(ins);
    const copyLink = h('button', { class: 'btn', type: 'button', onclick: (e) => copy(location.href, e.currentTarget) }, 'Copy link');
    return h('div', { class: 'view', 'data-id': ins.id },
      h('section', { class: 'card head' },
        h('div', { class: 'eyebrow' },
          h('span', null, 'Incident ', h('code', null, ins.id)),
          ins.pattern ? h('span', { class: 'pattern' }, ins.pattern) : null,
          copyLink),
        h('h1', null, ins.summary || 'Incident ' + ins.id),
        h('div', { class: 'meter', title: 'confidence ' + pct(ins.confidence) },
          h('span', { class: 'bar ' + level(ins.confidence) }, h('i', { style: 'width:' + pct(ins.confidence) })),
          h('b', null, pct(ins.confidence)), ' confidence'),
        h('dl', { class: 'facts' },
          h('div', null, h('dt', null, 'Root cause'),
            h('dd', null, h('span', { class: 'tag root' }, rc.kind || 'Unknown'), ' ', entityText(rc.entity),
              h('div', { class: 'muted small' }, 'began ' + fmtAbs(rc.at)))),
          h('div', null, h('dt', null, 'Symptom'),
            h('dd', null, h('span', { class: 'tag sym' }, sym.kind || '—'), ' ', entityText(sym.entity),
              h('div', { class: 'muted small' }, fmtAbs(symAt) + ' · ', ago(symAt)))),
          h('div', null, h('dt', null, 'Workload'),
            h('dd', null, wl || '—', rc.service ? h('span', { class: 'muted' }, ' · service ' + rc.service) : null)),
          h('div', null, h('dt', null, 'Blast radius'),
            h('dd', null, affected.length ? [h('span', { class: 'muted' }, affectedCount(affected) + ': '),
              h('span', { class: 'chips' }, affected.map((e) => h('span', { class: 'chip' }, entityText(e))))] : '—')))),
      h('section', { class: 'card' },
        h('div', { class: 'card-title' }, h('h2', null, 'Causal chain'),
          h('span', { class: 'muted' }, 'root cause → symptom')),
        h('div', { id: 'chain', class: 'chain' })),
      h('section', { class: 'card' },
        h('div', { class: 'card-title' }, h('h2', null, 'Evidence timeline'),
          h('span', { class: 'muted' }, 'relative to the symptom')),
        timeline(ins)),
      h('section', { class: 'card' },
        h('div', { class: 'card-title' }, h('h2', null, 'Alternatives considered')),
        alternatives(ins)),
      h('section', { class: 'card' },
        h('div', { class: 'card-title' }, h('h2', null, 'Recommendations')),
        recommendations(ins)));
  }

  function affectedCount(list) {
    const kinds = new Set(list.map((e) => (e && e.kind) || ''));
    const k = kinds.size === 1 ? [...kinds][0].toLowerCase() : '';
    return k ? plural(list.length, k) : plural(list.length, 'entity', 'entities');
  }

  // ---- causal chain (inline SVG)
  const F_KIND = '600 13.5px ' + FONT, F_ENT = '12.5px ' + FONT, F_WHY = '12.5px ' + FONT;
  const F_KP = '12.5px ' + FONT, F_SMALL = '11.5px ' + FONT, F_TAG = '700 10.5px ' + FONT;

  function drawChain(ins) {
    const host = document.getElementById('chain');
    if (!host) return;
    const steps = chainSteps(ins);
    if (!steps.length) { host.replaceChildren(h('p', { class: 'muted' }, 'The report has no causal chain for this incident.')); return; }
    const symT = ms(symptomAt(ins));
    const W = Math.max(560, Math.floor(host.clientWidth || 860));
    const boxW = Math.min(460, Math.round(W * 0.52));
    const whyX = boxW + 44, whyW = W - whyX - 6;
    const boxH = 56, gap = 30, lineH = 17, top = 12;

    const svg = s('svg', { xmlns: SVGNS, width: W, role: 'img', 'aria-label': 'Causal chain from root cause to symptom', class: 'chain-svg' });
    const defs = s('defs');
    const marker = s('marker', { id: 'arr', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#667085' }));
    defs.append(marker);
    svg.append(defs);

    let y = top;
    steps.forEach((st, i) => {
      const last = i === steps.length - 1;
      const role = i === 0 ? 'root' : last ? 'symptom' : 'step';
      const whyLines = st.why ? wrap(st.why, whyW, F_WHY) : [];
      const rowH = Math.max(boxH, whyLines.length * lineH + 6);
      const g = s('g', { class: 'chain-step ' + role, 'data-role': role, 'data-index': i, transform: 'translate(0,' + y + ')' });
      const ev = Array.isArray(st.evidence) ? st.evidence.length : 0;
      g.append(s('title', null, (st.kind || '') + ' — ' + entityText(st.entity) + ' — ' + fmtAbs(st.at) +
        (ev ? ' — ' + plural(ev, 'event') : '')));
      g.append(s('rect', { class: 'box', x: 1, y: 0, width: boxW - 2, height: boxH, rx: 8 }));
      const rel = fmtRel(ms(st.at) - symT);
      const relW = rel ? width(rel, F_SMALL) + 14 : 0;
      const evTxt = ev ? plural(ev, 'event') : '';
      const evW = evTxt ? width(evTxt, F_SMALL) + 14 : 0;
      const kindW = boxW - 28 - relW;
      const km = /^([^()]+?)\s*\((.+)\)$/.exec(st.kind || '');
      const kt = s('text', { class: 'k', x: 14, y: 24 });
      if (km) {
        const base = fit(km[1], kindW, F_KIND);
        kt.append(s('tspan', null, base));
        const rest = kindW - width(base + ' ', F_KIND);
        if (rest > 40) kt.append(s('tspan', { class: 'kp' }, ' ' + fit(km[2], rest, F_KP)));
      } else kt.textContent = fit(st.kind || 'Unknown', kindW, F_KIND);
      g.append(kt);
      if (rel) g.append(s('text', { class: 't', x: boxW - 12, y: 24, 'text-anchor': 'end' }, rel));
      g.append(s('text', { class: 'e', x: 14, y: 44 }, fit(entityText(st.entity), boxW - 28 - evW, F_ENT)));
      if (evTxt) g.append(s('text', { class: 'n', x: boxW - 12, y: 44, 'text-anchor': 'end' }, evTxt));
      if (role !== 'step') {
        const label = role === 'root' ? 'ROOT CAUSE · ' + pct(ins.confidence) : 'SYMPTOM';
        const tw = width(label, F_TAG) + 16;
        g.append(s('rect', { class: 'tagbg', x: 12, y: -9, width: tw, height: 17, rx: 8.5 }));
        g.append(s('text', { class: 'tag', x: 12 + tw / 2, y: 3.5, 'text-anchor': 'middle' }, label));
      }
      if (whyLines.length) {
        const ty = (boxH - whyLines.length * lineH) / 2 + 13;
        g.append(s('path', { class: 'lead', d: 'M' + (boxW + 6) + ',' + boxH / 2 + ' H' + (whyX - 10) }));
        const t = s('text', { class: 'w', x: whyX, y: Math.max(13, ty) });
        whyLines.forEach((l, j) => t.append(s('tspan', { x: whyX, dy: j ? lineH : 0 }, l)));
        g.append(t);
      }
      svg.append(g);
      if (!last) {
        const x = boxW / 2;
        svg.append(s('line', { class: 'arrow', x1: x, y1: y + boxH + 2, x2: x, y2: y + rowH + gap - 3, 'marker-end': 'url(#arr)' }));
      }
      y += rowH + gap;
    });
    const H = y - gap + 4;
    svg.setAttribute('height', H);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    host.replaceChildren(svg);
    host.dataset.width = String(W);
  }

  // ---- timeline of the evidence
  function timeline(ins) {
    const symT = ms(symptomAt(ins));
    const steps = chainSteps(ins).map((st, i, a) => ({ st, i, last: i === a.length - 1 }))
      .sort((a, b) => (ms(a.st.at) || 0) - (ms(b.st.at) || 0) || a.i - b.i);
    return h('ol', { id: 'timeline', class: 'timeline' }, steps.map(({ st, i, last }) => {
      const ev = Array.isArray(st.evidence) ? st.evidence : [];
      const role = i === 0 ? 'root' : last ? 'symptom' : 'step';
      return h('li', { class: 'tl-item ' + role },
        h('span', { class: 'tl-rel', title: fmtAbs(st.at) }, fmtRel(ms(st.at) - symT) || '—'),
        h('span', { class: 'tl-dot' }),
        h('div', { class: 'tl-body' },
          h('div', { class: 'tl-line' },
            h('b', null, st.kind || 'Unknown'), h('span', { class: 'muted' }, entityText(st.entity)),
            h('span', { class: 'tl-abs' }, fmtAbs(st.at))),
          ev.length ? h('details', null, h('summary', null, plural(ev.length, 'evidence event')),
            h('div', { class: 'ev' }, ev.map((e) => h('code', null, e)))) : null));
    }));
  }

  // ---- alternatives
  function alternatives(ins) {
    const alts = Array.isArray(ins.alternatives) ? ins.alternatives : [];
    if (!alts.length) return h('p', { id: 'alternatives', class: 'muted none' }, 'No alternative root cause was reported for this incident.');
    return h('ul', { id: 'alternatives', class: 'alts' }, alts.map((a) => {
      const rc = a.root_cause || {};
      return h('li', { class: 'alt' },
        h('div', { class: 'alt-head' },
          h('span', { class: 'conf ' + level(a.confidence) }, pct(a.confidence)),
          h('b', null, rc.kind || 'Unknown'), ' ', h('span', { class: 'muted' }, entityText(rc.entity))),
        h('p', null, h('span', { class: 'why-not' }, 'Why not: '), a.why_not || 'no reason given'));
    }));
  }

  // ---- recommendations: kubectl commands become copyable <code> blocks
  function splitCommands(text) {
    const parts = [];
    let rest = String(text);
    for (;;) {
      const i = rest.search(/\bkubectl\s/);
      if (i < 0) { if (rest.trim()) parts.push({ t: rest.trim() }); break; }
      const pre = rest.slice(0, i).replace(/[:\s]+$/, '');
      if (pre) parts.push({ t: pre });
      rest = rest.slice(i);
      const end = rest.search(/\s\(|;\s|\.\s|\.$|,\s(?=then |and |or )/);
      parts.push({ cmd: (end < 0 ? rest : rest.slice(0, end)).trim() });
      rest = end < 0 ? '' : rest.slice(end).replace(/^[.;,]?\s*/, '');
    }
    return parts;
  }
  function recommendations(ins) {
    const recs = Array.isArray(ins.recommendations) ? ins.recommendations : [];
    if (!recs.length) return h('p', { id: 'recommendations', class: 'muted none' }, 'No recommendation for this incident.');
    return h('ol', { id: 'recommendations', class: 'recs' }, recs.map((r) =>
      h('li', null, splitCommands(r).map((p) => p.cmd
        ? h('div', { class: 'cmd' }, h('code', null, p.cmd),
          h('button', { class: 'btn copy', type: 'button', title: 'Copy command', onclick: (e) => copy(p.cmd, e.currentTarget) }, 'Copy'))
        : h('p', null, p.t)))));
  }

  async function copy(text, btn) {
    let ok = false;
    try { await navigator.clipboard.writeText(text); ok = true; } catch (_) {
      const ta = h('textarea', { style: 'position:fixed;opacity:0' });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch (__) { ok = false; }
      ta.remove();
    }
    if (btn) {
      const old = btn.textContent;
      btn.textContent = ok ? 'Copied' : 'Select & copy';
      setTimeout(() => { btn.textContent = old; }, 1500);
    }
  }

  // ---- wiring
  window.addEventListener('hashchange', () => { state.listKey = null; render(); });
  $('#sort').addEventListener('change', (e) => { state.sort = e.target.value; state.listKey = null; render(); });
  let rt;
  window.addEventListener('resize', () => {
    clearTimeout(rt);
    rt = setTimeout(() => {
      const host = document.getElementById('chain');
      if (!host || host.dataset.width === String(Math.max(560, Math.floor(host.clientWidth)))) return;
      const ins = insights().find((i) => i.id === hashId());
      if (ins) drawChain(ins);
    }, 150);
  });
  poll();
})();
