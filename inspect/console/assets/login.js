'use strict';

(async () => {
  const form = document.getElementById('login');
  const msg = document.getElementById('message');
  const next = C.safeNext(new URLSearchParams(location.search).get('next'));
  let info;
  try {
    info = await C.call('GET', '/console/api/login');
  } catch (e) {
    C.showError(msg, e);
    return;
  }
  if (!info.enabled) {
    msg.textContent = 'The console is disabled: no API token is configured (set DISPUTED_API_TOKEN).';
    form.querySelector('button').disabled = true;
    return;
  }
  if (!info.token_required) {
    document.getElementById('token-field').hidden = true;
    document.getElementById('open-note').hidden = false;
  } else {
    document.getElementById('token').required = true;
  }
  form.addEventListener('input', () => { msg.textContent = ''; });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await C.call('POST', '/console/api/login', {
        reviewer: document.getElementById('reviewer').value.trim(),
        token: info.token_required ? document.getElementById('token').value : '',
      });
      document.getElementById('token').value = '';
      location.assign(next);
    } catch (e) {
      C.showError(msg, e);
      button.disabled = false;
    }
  });
})();
