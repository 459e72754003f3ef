'use strict';

(async () => {
  const { el, clear, call } = C;
  const msg = document.getElementById('message');
  const body = document.querySelector('#queue tbody');
  const more = document.getElementById('more');
  const empty = document.getElementById('empty');
  const status = document.getElementById('status');
  const category = document.getElementById('category');
  let cursor = '';

  try {
    await C.start();
  } catch (e) {
    C.showError(msg, e);
    return;
  }

  // The filters live in the page's address (never anything secret), so a
  // filtered queue can be reloaded and shared.
  const q = new URLSearchParams(location.search);
  if (q.get('status') && [...status.options].some((o) => o.value === q.get('status'))) status.value = q.get('status');
  if (q.get('category') && [...category.options].some((o) => o.value === q.get('category'))) category.value = q.get('category');

  function awaiting(a) {
    if (!a) return '';
    let s = a.party + ': ' + a.must;
    if (a.due) s += ' (by ' + C.when(a.due) + ')';
    if (a.paused) s += ' (paused, ' + a.remaining + ' left)';
    return s;
  }

  function row(it) {
    return el('tr', { 'data-order': it.order_id },
      el('td', {}, C.orderLink(it.order_id)),
      el('td', {}, el('span', { class: 'status status-' + it.status }, it.status)),
      el('td', {}, it.category),
      el('td', { class: 'num' }, C.money(it.amount, it.currency)),
      el('td', {}, it.reason || ''),
      el('td', {}, C.when(it.requested_at)),
      el('td', { title: it.since ? 'since ' + C.when(it.since) : '' }, C.age(it.since)),
      el('td', {}, awaiting(it.awaiting)));
  }

  async function load(append) {
    msg.textContent = '';
    const p = new URLSearchParams({ status: status.value, limit: '50' });
    if (category.value) p.set('category', category.value);
    if (append && cursor) p.set('cursor', cursor);
    try {
      const page = await call('GET', '/console/api/v1/disputes?' + p.toString());
      if (!append) clear(body);
      for (const it of page.items) body.append(row(it));
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
      empty.hidden = body.children.length > 0;
    } catch (e) {
      C.showError(msg, e);
    }
  }

  document.getElementById('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams({ status: status.value });
    if (category.value) p.set('category', category.value);
    history.replaceState(null, '', '/console/?' + p.toString());
    load(false);
  });
  document.getElementById('refresh').addEventListener('click', () => load(false));
  more.addEventListener('click', () => load(true));
  load(false);
})();
