// The reviewers' console, the whole path a reviewer takes: log in, the
// queue, a dispute, a preview, the decision sent, its ruling shown. Every
// wait is on a condition, never a fixed time: the machine may be busy.
const { test, expect } = require('@playwright/test');
const path = require('path');

const token = process.env.DISPUTED_TOKEN;
const order = process.env.DISPUTED_ORDER;
const xssOrder = process.env.DISPUTED_XSS_ORDER;
const shots = process.env.SCREENSHOT_DIR;

// shot saves a screenshot for docs/console: of the page as a reviewer
// sees it, of the whole page, or of one part of it.
async function shot(page, name, what) {
  if (!shots) return;
  const file = path.join(shots, name + '.png');
  if (what === 'full') await page.screenshot({ path: file, fullPage: true });
  else if (what) await what.screenshot({ path: file });
  else await page.screenshot({ path: file });
}

test('a reviewer decides an escalated dispute', async ({ page }) => {
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  // Chromium reports every 4xx answer as an error; the test asks for one
  // (a wrong token). Answers are checked below, by status.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push('console: ' + m.text());
  });
  page.on('response', (r) => { if (r.status() >= 500) problems.push(r.status() + ' from ' + r.url()); });
  // A navigation aborts what the page it leaves still had in flight.
  page.on('requestfailed', (r) => {
    if (r.failure().errorText !== 'net::ERR_ABORTED') problems.push('request failed: ' + r.url() + ': ' + r.failure().errorText);
  });
  page.on('request', (r) => {
    if (token && r.url().includes(token)) problems.push('the token is in a URL: ' + r.url());
  });

  // Log in: the pages send a visitor without a session to the login form.
  await page.goto('/console/');
  await expect(page).toHaveURL(/\/console\/login\?next=/);
  await expect(page.getByLabel('API token')).toBeVisible();
  await page.getByLabel('Your name').fill('alice');
  await page.getByLabel('API token').fill('not-the-token');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.locator('#message')).toContainText('not the API token');
  await page.getByLabel('API token').fill(token);
  await shot(page, 'login');
  await page.getByRole('button', { name: 'Log in' }).click();

  // The queue: escalated and under-review disputes, oldest first.
  await expect(page).toHaveURL(/\/console\/$/);
  await expect(page.getByTestId('reviewer')).toContainText('alice');
  const rows = page.locator('#queue tbody tr');
  await expect(page.locator(`#queue tbody tr[data-order="${order}"]`)).toBeVisible();
  await expect(page.locator(`#queue tbody tr[data-order="${xssOrder}"]`)).toBeVisible();
  const total = await rows.count();
  expect(total).toBeGreaterThanOrEqual(3);
  await expect(page.locator(`#queue tbody tr[data-order="${order}"]`)).toContainText('400.00 CNY');
  await expect(page.locator(`#queue tbody tr[data-order="${order}"]`)).toContainText('decide the dispute');
  await shot(page, 'queue');

  // Filtered by category: only the image design disputes.
  await page.getByLabel('Category').selectOption('image_design');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/category=image_design/);
  await expect(rows.filter({ hasNotText: 'image_design' })).toHaveCount(0);
  await expect(page.locator(`#queue tbody tr[data-order="${order}"]`)).toBeVisible();
  await expect(page.locator(`#queue tbody tr[data-order="${xssOrder}"]`)).toHaveCount(0);
  // Filtered by status: nothing is under review.
  await page.getByLabel('Status').selectOption('under_review');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.locator('#empty')).toBeVisible();
  await page.getByLabel('Status').selectOption('escalated,under_review');
  await page.getByLabel('Category').selectOption('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(rows).toHaveCount(total);

  // Whatever a party wrote is shown as text, never run.
  await page.getByRole('link', { name: xssOrder }).click();
  await expect(page.getByTestId('timeline')).toContainText('<img id="xss-probe"');
  await expect(page.locator('#xss-probe')).toHaveCount(0);
  expect(await page.evaluate(() => window.__xss === undefined)).toBe(true);
  await page.getByRole('link', { name: '← Queue' }).click();

  // A dispute: timeline (events, evidence with its kind, the deadline
  // fired, commands), obligations, rulings with the text of each article.
  await page.getByRole('link', { name: order }).click();
  await expect(page.getByRole('heading', { name: 'Dispute ' + order })).toBeVisible();
  await expect(page.getByTestId('status')).toHaveText('escalated');
  const timeline = page.getByTestId('timeline');
  await expect(timeline).toContainText('reference evidence');
  await expect(timeline).toContainText('phone photos of the banners');
  await expect(timeline).toContainText('deadline fired');
  await expect(timeline).toContainText('notice: evidence_requested');
  await expect(page.getByTestId('obligations')).toContainText('decide the dispute (review.decided)');
  const escalation = page.getByTestId('rulings').getByTestId('ruling').first();
  await expect(escalation).toHaveAttribute('data-outcome', 'escalated');
  await expect(escalation.locator('[data-citation="c1.s2.reference_vouchers"]')).toContainText('including but not limited to other screenshots');
  await expect(escalation.locator('[data-citation="c1.s4.a2"]')).toContainText('provide vouchers in a timely manner');
  await shot(page, 'dispute', 'full');

  // The decision: a preview of the ruling and the transfers first.
  await page.getByLabel('Refund to the customer').fill('15000');
  await page.getByLabel('c2.a3', { exact: true }).check();
  await page.getByLabel('c2.a9', { exact: true }).check();
  await page.getByLabel('Note').fill('Two of five banners below the agreed resolution.');
  const submit = page.getByRole('button', { name: 'Submit decision' });
  await expect(submit).toBeDisabled();
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByTestId('preview');
  const would = preview.getByTestId('ruling');
  await expect(would).toHaveAttribute('data-outcome', 'refund_partial');
  await expect(would.getByTestId('refund-amount')).toHaveText('150.00 CNY');
  await expect(would.getByTestId('provider-amount')).toHaveText('250.00 CNY');
  await expect(would.getByTestId('arithmetic')).toHaveText('customer = 15000; provider = 40000 - 15000 = 25000');
  await expect(would.locator('[data-citation="c2.a9"]')).toContainText('partially refunded');
  await expect(preview.getByTestId('transfers')).toContainText('mer-23890');
  await expect(preview.getByTestId('transfers')).toContainText('sp-studio-lumen');
  await expect(submit).toBeEnabled();
  // A change after the preview needs another preview.
  await page.getByLabel('Refund to the customer').fill('15001');
  await expect(submit).toBeDisabled();
  await page.getByLabel('Refund to the customer').fill('15000');
  await expect(submit).toBeEnabled();
  await shot(page, 'preview', page.getByTestId('decision'));

  // Submit, twice as fast as a person can: one event. Then the ruling,
  // once the processor has read the event from Kafka.
  const eventID = (await page.locator('#event-id').textContent()).trim();
  expect(eventID).toMatch(/^console-[0-9a-f]{32}$/);
  await submit.dblclick();
  const outcome = page.getByTestId('outcome');
  await expect(outcome).toBeVisible({ timeout: 60_000 });
  const ruled = outcome.getByTestId('ruling');
  await expect(ruled).toHaveAttribute('data-outcome', 'refund_partial');
  await expect(ruled).toHaveAttribute('data-ruling-id', order + '/event:' + eventID);
  await expect(ruled.getByTestId('refund-amount')).toHaveText('150.00 CNY');
  await expect(outcome).toContainText('console/alice');
  await expect(page.getByTestId('status')).toHaveText('ruled');
  await expect(page.getByTestId('decision')).toBeHidden();
  await expect(timeline).toContainText('transfer to the provider');
  await page.evaluate(() => window.scrollTo(0, 0));
  if (shots) {
    // The dispute's facts and the ruling that came back: the top of the page.
    const box = await outcome.boundingBox();
    await page.screenshot({ path: path.join(shots, 'ruling.png'), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: box.y + box.height + 16 } });
  }

  // Log out: the pages send the visitor to the login form again.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/console\/login/);
  await page.goto('/console/');
  await expect(page).toHaveURL(/\/console\/login\?next=/);

  expect(problems).toEqual([]);
  console.log('decided ' + order + ' with event ' + eventID);
});
