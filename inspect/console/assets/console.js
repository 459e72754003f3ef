// The reviewers' console: helpers every page uses. Everything shown is put
// in the page as text (textContent, text nodes), never parsed as HTML: a
// chat message or a note can say anything.
'use strict';

const C = (() => {
  // el builds an element: attributes, then children (nodes, or strings that
  // become text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  class APIError extends Error {
    constructor(status, code, message) {
      super(message || ('HTTP ' + status));
      this.status = status;
      this.code = code || '';
    }
  }

  let csrf = '';

  // call sends a request to the console's own endpoints; the session
  // cookie goes with it, and on a state-changing request the session's
  // CSRF token.
  async function call(method, path, body) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && csrf) opts.headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new APIError(0, 'network', 'disputed could not be reached: ' + e.message);
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
    if (res.status === 401 && path !== '/console/api/login') {
      toLogin();
    }
    if (!res.ok) throw new APIError(res.status, data && data.code, data && data.message);
    return data;
  }

  function toLogin() {
    const next = location.pathname + location.search;
    location.assign('/console/login?next=' + encodeURIComponent(next));
  }

  // safeNext is where the login page may go after logging in: a page of
  // the console, never another site.
  function safeNext(next) {
    if (typeof next === 'string' && /^\/console\/[A-Za-z0-9\/_\-:@+=~%.?&,]*$/.test(next) && !next.includes('//')) return next;
    return '/console/';
  }

  // start checks the session and draws the page's header.
  async function start() {
    const s = await call('GET', '/console/api/session');
    csrf = s.csrf_token;
    const top = clear(document.getElementById('top'));
    top.append(
      el('a', { href: '/console/', class: 'brand' }, "Reviewers' console"),
      el('span', { class: 'who', 'data-testid': 'reviewer' }, 'signed in as ', el('strong', {}, s.reviewer)),
      el('button', { type: 'button', onclick: logout }, 'Log out'),
    );
    return s;
  }

  async function logout() {
    try { await call('POST', '/console/api/logout'); } finally { location.assign('/console/login'); }
  }

  let articlesPromise = null;
  // articles returns the table citation -> {heading, text}, generated from
  // the rules text and served with the console.
  function articles() {
    if (!articlesPromise) {
      articlesPromise = fetch('/console/static/articles.json', { credentials: 'same-origin' })
        .then((r) => r.json())
        .then((t) => {
          const m = new Map();
          for (const a of t.articles) m.set(a.citation, a);
          return m;
        });
    }
    return articlesPromise;
  }

  // citations shows each cited article with its text next to it.
  function citations(list, table, open) {
    const box = el('div', { class: 'citations' });
    for (const c of list || []) {
      const a = table.get(c);
      box.append(el('details', { class: 'cite', open: open !== false, 'data-citation': c },
        el('summary', {}, el('code', {}, c), ' ', a ? a.heading : '(not in the rules text)'),
        el('p', { class: 'article-text' }, a ? a.text : '')));
    }
    if (!list || list.length === 0) box.append(el('span', { class: 'muted' }, 'no articles'));
    return box;
  }

  // Minor units per major unit, for the currencies that do not have 100.
  const decimals = { BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3, BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0 };

  // money shows an integer of minor units in major units, exactly (no
  // floating point), with the currency.
  function money(minor, currency) {
    const d = decimals[currency] === undefined ? 2 : decimals[currency];
    const neg = minor < 0;
    let s = String(Math.abs(minor));
    if (d > 0) {
      s = s.padStart(d + 1, '0');
      s = s.slice(0, -d) + '.' + s.slice(-d);
    }
    return (neg ? '-' : '') + s + ' ' + (currency || '');
  }

  function when(iso) {
    if (!iso) return '';
    const t = new Date(iso);
    if (isNaN(t)) return String(iso);
    return t.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  }

  function age(iso) {
    if (!iso) return '';
    let s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60);
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    return m + 'm';
  }

  function showError(node, err) {
    node.textContent = err && err.message ? err.message : String(err);
  }

  function orderLink(id) {
    return el('a', { href: '/console/disputes/' + encodeURIComponent(id) }, id);
  }

  return { el, clear, call, start, articles, citations, money, when, age, showError, safeNext, orderLink, APIError };
})();
