'use strict';

(async () => {
  const { el, clear, call } = C;
  const msg = document.getElementById('message');
  const order = decodeURIComponent(location.pathname.replace(/^\/console\/disputes\//, ''));
  const path = '/console/api/v1/disputes/' + encodeURIComponent(order);
  const pendingKey = 'disputed-console-pending:' + order;
  let table;
  let view;

  try {
    await C.start();
    table = await C.articles();
  } catch (e) {
    C.showError(msg, e);
    return;
  }
  document.title = order + ' · disputed reviewers\' console';
  document.getElementById('title').textContent = 'Dispute ' + order;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function dl(pairs) {
    const d = el('dl', { class: 'facts' });
    for (const [k, v] of pairs) {
      if (v === '' || v === null || v === undefined || v === false) continue;
      d.append(el('dt', {}, k), el('dd', {}, v));
    }
    return d;
  }

  function renderSummary(v) {
    const s = v.state;
    const o = s.order || {};
    const r = s.refund;
    const box = clear(document.getElementById('summary'));
    box.append(dl([
      ['Status', el('span', { class: 'status status-' + v.status, 'data-testid': 'status' }, v.status)],
      ['Category', o.category],
      ['Order amount', C.money(o.amount, o.currency)],
      ['Customer', o.customer_id],
      ['Provider', o.provider_id],
      ['Paid', C.when(o.paid_at)],
      ['Delivery due', C.when(o.delivery_due)],
      ['Delivered', s.delivered ? 'yes' : ''],
      ['Custom contract', o.custom_contract ? 'yes (c3.s4.a5, c3.s5.a5)' : ''],
      ['Refund reason', r && r.reason],
      ['Refund asked', r && C.money(r.amount, o.currency)],
      ['Requested', r && C.when(r.requested_at)],
      ['Intervention', r && r.intervention_by ? r.intervention_by + ', ' + C.when(r.intervention_at) : ''],
      ['Burden of proof', r && r.burden ? r.burden + ' (' + r.burden_article + ')' : ''],
      ['Evidence due', r && C.when(r.evidence_due)],
      ['Assessment', s.assessment ? 'value ratio ' + s.assessment.value_ratio_bp + ' bp, service cost ' +
        (s.assessment.service_cost || 0) + ', unrealized cost ' + (s.assessment.unrealized_cost || 0) : ''],
      ['Partition', String(v.partition)],
    ]));
  }

  function renderObligations(v) {
    const box = clear(document.getElementById('obligations'));
    if (v.obligations.length === 0) {
      box.append(el('p', { class: 'muted' }, 'Nobody must do anything now.'));
      return;
    }
    for (const ob of v.obligations) {
      let due = 'no deadline';
      if (ob.due) due = 'by ' + C.when(ob.due);
      if (ob.paused) due = 'paused, ' + ob.remaining + ' left';
      box.append(el('div', { class: 'obligation card', 'data-testid': 'obligation' },
        el('p', {}, el('strong', {}, ob.party), ' must ', ob.must, ' — ', el('em', {}, due)),
        el('p', { class: 'muted' }, 'If not: ', ob.if_not),
        C.citations(ob.articles, table)));
    }
  }

  function rulingCard(r, label) {
    return el('div', { class: 'ruling card', 'data-testid': 'ruling', 'data-outcome': r.outcome, 'data-ruling-id': r.ruling_id },
      el('h3', {}, label ? label + ': ' : '', el('span', { class: 'outcome outcome-' + r.outcome }, r.outcome), ' · ', C.when(r.decided_at)),
      el('p', { class: 'reason' }, r.reason),
      el('table', { class: 'amounts' },
        el('tr', {}, el('th', {}, 'Order amount'), el('td', { class: 'num' }, C.money(r.amount, r.currency))),
        el('tr', {}, el('th', {}, 'To the customer (refund)'), el('td', { class: 'num', 'data-testid': 'refund-amount' }, C.money(r.refund_amount, r.currency))),
        el('tr', {}, el('th', {}, 'To the provider'), el('td', { class: 'num', 'data-testid': 'provider-amount' }, C.money(r.provider_amount, r.currency)))),
      r.arithmetic ? el('p', { class: 'arithmetic' }, 'Arithmetic: ', el('code', { 'data-testid': 'arithmetic' }, r.arithmetic)) : null,
      el('p', { class: 'muted' }, 'Ruling ', el('code', {}, r.ruling_id), ' · cause ', el('code', {}, r.cause), ' · rule set ', r.rule_set),
      C.citations(r.articles, table));
  }

  function renderRulings(v) {
    const box = clear(document.getElementById('rulings'));
    if (v.rulings.length === 0) box.append(el('p', { class: 'muted' }, 'No ruling yet.'));
    for (const r of v.rulings) box.append(rulingCard(r));
  }

  function commandWhat(id) {
    if (id.endsWith('/ruling')) return 'ruling';
    if (id.endsWith('/rejected')) return 'rejection';
    const t = id.match(/\/transfer\/(customer|provider)$/);
    if (t) return 'transfer to the ' + t[1];
    const n = id.match(/\/notice\/([a-z_]+)$/);
    if (n) return 'notice: ' + n[1];
    return 'command';
  }

  function renderTimeline(v) {
    const body = clear(document.querySelector('#timeline tbody'));
    const vouchers = new Map((v.state.vouchers || []).map((x) => [x.event_id, x]));
    const rulings = new Map(v.rulings.map((r) => [r.command_id, r]));
    for (const t of v.timeline) {
      let what = t.type;
      let details = '';
      let cls = 'event';
      if (t.kind === 'event') {
        const x = vouchers.get(t.id);
        if (x) {
          const kind = x.kind || 'chat';
          details = el('span', {},
            el('span', { class: 'badge badge-' + kind, 'data-testid': 'voucher-kind' }, kind === 'chat' ? 'chat' : kind + ' evidence'),
            ' from ', el('strong', {}, x.party), x.text ? ': ' : '', el('span', { class: 'voucher-text', 'data-testid': 'voucher-text' }, x.text || ''));
        } else if (v.state.refund && v.state.refund.event_id === t.id) {
          details = 'reason: ' + v.state.refund.reason;
        }
      } else if (t.kind === 'deadline') {
        what = 'deadline fired';
        details = t.id;
        cls = 'deadline';
      } else {
        what = commandWhat(t.id);
        const r = rulings.get(t.id);
        if (r) details = r.outcome + ': ' + C.money(r.refund_amount, r.currency) + ' to the customer, ' + C.money(r.provider_amount, r.currency) + ' to the provider';
        cls = 'command';
      }
      body.append(el('tr', { class: 'tl-' + cls },
        el('td', { class: 'nowrap' }, C.when(t.at)),
        el('td', {}, what),
        el('td', {}, details),
        el('td', {}, el('code', {}, t.id))));
    }
  }

  function renderHeld(v) {
    const sec = document.getElementById('held-section');
    const box = clear(document.getElementById('held'));
    sec.hidden = v.held.length === 0;
    for (const h of v.held) {
      box.append(el('div', { class: 'card' },
        el('p', {}, el('code', {}, h.command_id), ' on ', el('code', {}, h.subject), ' · ', C.when(h.at)),
        el('p', {}, h.reason),
        el('pre', {}, JSON.stringify(h.data, null, 2))));
    }
  }

  function render(v) {
    view = v;
    renderSummary(v);
    renderObligations(v);
    renderRulings(v);
    renderTimeline(v);
    renderHeld(v);
  }

  // ---- the decision form ----------------------------------------------

  const refund = document.getElementById('refund');
  const note = document.getElementById('note');
  const picker = document.getElementById('article-picker');
  const previewBox = document.getElementById('preview');
  const previewButton = document.getElementById('preview-button');
  const submitButton = document.getElementById('submit-button');
  const retryButton = document.getElementById('retry-button');
  const fields = document.getElementById('decision-fields');
  const dmsg = document.getElementById('decision-message');
  const selected = el('div', { class: 'selected-articles' });

  // One event ID per decision form, drawn here and sent with every preview,
  // submission and retry: the engine takes an event ID once, so a double
  // click or a retry can never make two decisions.
  function newEventID() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    return 'console-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  }
  let eventID = newEventID();
  let previewed = '';

  function body() {
    const arts = [...picker.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
    return { event_id: eventID, refund_amount: Number(refund.value), articles: arts, note: note.value };
  }

  function buildPicker() {
    clear(picker);
    for (const [c, a] of table) {
      if (c === 'c1.s1.a4') continue; // the engine cites it on every reviewer's decision
      const short = a.heading.split(' · ').slice(-2).join(' · ');
      picker.append(el('label', { class: 'pick', title: a.text },
        el('input', { type: 'checkbox', value: c, 'aria-label': c }), ' ', el('code', {}, c), ' ', el('span', { class: 'muted' }, short)));
    }
    picker.after(selected);
  }

  function changed() {
    const same = JSON.stringify(body()) === previewed;
    submitButton.disabled = !same;
    previewBox.classList.toggle('stale', !same && previewed !== '');
    const arts = body().articles;
    clear(selected);
    if (arts.length > 0) selected.append(el('p', { class: 'muted' }, 'Selected, with their text:'), C.citations(arts, table));
  }

  function lock(locked) {
    fields.disabled = locked;
    previewButton.disabled = locked;
    if (locked) submitButton.disabled = true;
  }

  function renderPreview(pv) {
    clear(previewBox);
    previewBox.hidden = false;
    previewBox.classList.remove('stale');
    previewBox.append(el('h3', {}, 'Preview: what this decision would do now'));
    if (pv.duplicate) {
      previewBox.append(el('p', { class: 'error' }, 'This event ID was already applied: sending it again does nothing.'));
    }
    let ruling = null;
    const transfers = [];
    for (const c of pv.commands) {
      if (c.subject.startsWith('disputes.ruling.')) {
        ruling = c.data;
        previewBox.append(rulingCard(c.data, 'Would rule'));
      } else if (c.subject.startsWith('finance.transfer.')) {
        transfers.push(c.data);
      } else if (c.subject.startsWith('disputes.rejected.')) {
        previewBox.append(el('div', { class: 'card rejection', 'data-testid': 'rejection' },
          el('h3', {}, 'Would be rejected'), el('p', {}, c.data.reason), C.citations(c.data.articles, table)));
      } else if (c.subject.startsWith('disputes.notice.')) {
        previewBox.append(el('p', {}, 'Notice ', el('code', {}, c.data.kind), ': ', c.data.message));
      }
    }
    if (transfers.length > 0) {
      const t = el('table', { class: 'transfers', 'data-testid': 'transfers' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Transfer to'), el('th', {}, 'Party ID'), el('th', { class: 'num' }, 'Amount'), el('th', {}, 'Transfer ID'))));
      const tb = el('tbody');
      for (const x of transfers) {
        tb.append(el('tr', {}, el('td', {}, x.to), el('td', {}, x.party_id), el('td', { class: 'num' }, C.money(x.amount, x.currency)), el('td', {}, el('code', {}, x.transfer_id))));
      }
      t.append(tb);
      previewBox.append(el('h4', {}, 'Transfers it would make'), t);
    }
    previewBox.append(el('p', { class: 'muted' }, 'Status after: ', pv.status_after));
    return ruling;
  }

  async function preview() {
    dmsg.textContent = '';
    const b = body();
    if (!refund.checkValidity() || refund.value === '') {
      dmsg.textContent = 'Give the refund, in minor units (0 or more).';
      return;
    }
    previewButton.disabled = true;
    try {
      const pv = await call('POST', '/console/api/disputes/' + encodeURIComponent(order) + '/preview', b);
      const ruling = renderPreview(pv);
      previewed = ruling && ruling.outcome !== 'escalated' && !pv.duplicate ? JSON.stringify(b) : '';
      dmsg.textContent = previewed ? 'Check the ruling and the transfers below, then submit.' : 'This decision would not rule: change it and preview again.';
      changed();
    } catch (e) {
      C.showError(dmsg, e);
    } finally {
      previewButton.disabled = fields.disabled;
    }
  }

  function showOutcome(r, id, source) {
    document.getElementById('decision').hidden = true;
    const box = clear(document.getElementById('outcome'));
    box.hidden = false;
    box.append(el('h2', {}, 'Ruled'),
      el('p', {}, 'Your decision, event ', el('code', {}, id), source ? ' from ' : '', source ? el('code', {}, source) : '', ', was decided by the rules engine:'),
      rulingCard(r, 'Ruling'));
  }

  // waitForRuling polls the dispute until the decision's ruling (or its
  // rejection) is there: the event goes through Kafka and the processor
  // like every other.
  async function waitForRuling(id, source) {
    const started = Date.now();
    for (;;) {
      try {
        const v = await call('GET', path);
        const r = v.rulings.find((x) => x.cause === 'event:' + id);
        if (r) {
          sessionStorage.removeItem(pendingKey);
          render(v);
          showOutcome(r, id, source);
          return;
        }
        if (v.timeline.some((t) => t.kind === 'command' && t.id === order + '/event:' + id + '/rejected')) {
          sessionStorage.removeItem(pendingKey);
          render(v);
          dmsg.textContent = 'The rules engine rejected the decision (the preview said why); the dispute is ' + v.status + '.';
          return;
        }
      } catch (e) {
        if (e.status === 401) return;
        C.showError(dmsg, e);
      }
      const waited = Date.now() - started;
      dmsg.textContent = waited < 60000
        ? 'Sent as event ' + id + '; waiting for the ruling…'
        : 'Sent as event ' + id + '; still waiting for the ruling: the processor may be behind (see /readyz and the consumer lag).';
      await sleep(waited < 60000 ? 1000 : 5000);
    }
  }

  // send submits the decision; a retry sends the very same body (same
  // event ID).
  async function send(b) {
    lock(true);
    retryButton.hidden = true;
    dmsg.textContent = 'Sending…';
    sessionStorage.setItem(pendingKey, JSON.stringify(b));
    try {
      const res = await call('POST', '/console/api/disputes/' + encodeURIComponent(order) + '/decisions', b);
      await waitForRuling(res.event_id, res.source);
    } catch (e) {
      if (e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 408) {
        // Refused before anything was written: the form can change.
        sessionStorage.removeItem(pendingKey);
        lock(false);
        C.showError(dmsg, e);
        changed();
        return;
      }
      C.showError(dmsg, e);
      retryButton.hidden = false;
      retryButton.onclick = () => send(b);
    }
  }

  function fillForm(b) {
    eventID = b.event_id;
    refund.value = String(b.refund_amount);
    note.value = b.note || '';
    for (const c of picker.querySelectorAll('input[type=checkbox]')) c.checked = (b.articles || []).includes(c.value);
  }

  function setupDecision(v) {
    const sec = document.getElementById('decision');
    const pending = sessionStorage.getItem(pendingKey);
    if (!pending && v.status !== 'escalated' && v.status !== 'under_review') {
      sec.hidden = true;
      return;
    }
    sec.hidden = false;
    buildPicker();
    const o = v.state.order;
    const asked = v.state.refund ? v.state.refund.amount : o.amount;
    refund.max = String(asked);
    clear(document.getElementById('refund-hint')).append(
      'the customer asked for ', C.money(asked, o.currency), ' of ', C.money(o.amount, o.currency), ' · ',
      el('button', { type: 'button', class: 'link', onclick: () => { refund.value = String(asked); changed(); } }, 'refund what was asked'), ' · ',
      el('button', { type: 'button', class: 'link', onclick: () => { refund.value = '0'; changed(); } }, 'release to the provider'));
    document.getElementById('event-id').textContent = eventID;
    for (const x of [refund, note]) x.addEventListener('input', changed);
    picker.addEventListener('change', changed);
    previewButton.addEventListener('click', preview);
    submitButton.addEventListener('click', () => {
      if (submitButton.disabled) return;
      submitButton.disabled = true; // a second click finds it disabled
      send(body());
    });
    if (pending) {
      // A decision was sent from this tab and its ruling not yet seen (the
      // page was reloaded): send it again, which is harmless (same event
      // ID), and wait for its ruling.
      const b = JSON.parse(pending);
      fillForm(b);
      document.getElementById('event-id').textContent = eventID;
      send(b);
    }
  }

  try {
    const v = await call('GET', path);
    render(v);
    setupDecision(v);
  } catch (e) {
    C.showError(msg, e);
  }
})();
