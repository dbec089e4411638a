// The web dashboard in a real browser (Debian's chromium, headless), against a running
// `noex demo --web`. Run by tests/web.rs:
//
//   node tests/web/dashboard.mjs CASE URL ARTIFACT_DIR
//
// Each case waits for what the page must show (generous timeouts, only against a
// hang) and exits non-zero with the reason when it does not. Exit 0 means it passed.
// Playwright gives each launch a fresh profile of its own and removes it on close.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [caseName, url, artifacts] = process.argv.slice(2);
if (!caseName || !url || !artifacts) {
  console.error('usage: dashboard.mjs CASE URL ARTIFACT_DIR');
  process.exit(2);
}
const HANG = 30_000;
const CHROMIUM = process.env.NOEX_CHROMIUM || '/usr/bin/chromium';

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** The process table's row for `name`. */
function row(page, name) {
  return page.locator(`#process-rows tr[data-name="${name}"]`);
}

const cases = {
  // The supervision tree shows the demo's supervisors, nested as the demo starts them,
  // and the header says which application this is.
  async tree(page) {
    await page.goto(url);
    for (const supervisor of ['app_sup', 'services', 'workers', 'pipeline', 'sessions', 'shop']) {
      await page
        .locator(`#tree .line[data-kind="supervisor"][data-name="${supervisor}"]`)
        .waitFor({ timeout: HANG });
    }
    // worker-1 sits under workers, not beside it.
    const nested = page.locator(
      '#tree .node:has(> .line[data-name="workers"]) > [role="group"] .line[data-name="worker-1"]',
    );
    await nested.waitFor({ timeout: HANG });
    await page.waitForFunction(() => document.getElementById('app-name').textContent === 'noex-demo', null, {
      timeout: HANG,
    });
    // Collapsing a supervisor hides its children; expanding shows them again.
    await page.locator('#tree .line[data-name="workers"] .toggle').click();
    await nested.waitFor({ state: 'detached', timeout: HANG });
    await page.locator('#tree .line[data-name="workers"] .toggle').click();
    await nested.waitFor({ timeout: HANG });
  },

  // The process table sorts by the header clicked (figures busiest first, again for
  // the other way) and shows only what the filter matches.
  async table(page) {
    await page.goto(url);
    await row(page, 'worker-1').waitFor({ timeout: HANG });
    const column = async (index) =>
      page.$$eval(`#process-rows tr td:nth-child(${index})`, (cells) => cells.map((cell) => cell.textContent));
    const numbers = (texts) => texts.filter((t) => t !== '').map((t) => Number(t.replace(/,/g, '')));
    const header = page.locator('#processes th[data-sort="messages"]');
    await header.click();
    check((await header.getAttribute('aria-sort')) === 'descending', 'messages sort busiest first');
    let messages = numbers(await column(5));
    check(messages.length > 5, `messages shown: ${messages}`);
    check(messages.every((n, i) => i === 0 || messages[i - 1] >= n), `descending: ${messages}`);
    await header.click();
    check((await header.getAttribute('aria-sort')) === 'ascending', 'a second click turns it');
    messages = numbers(await column(5));
    check(messages.every((n, i) => i === 0 || messages[i - 1] <= n), `ascending: ${messages}`);

    await page.fill('#filter', 'worker-');
    await page.waitForFunction(
      () => {
        const names = [...document.querySelectorAll('#process-rows tr')].map((tr) => tr.dataset.name);
        return names.length === 3 && names.every((name) => name.startsWith('worker-'));
      },
      null,
      { timeout: HANG },
    );
    await page.press('#filter', 'Escape');
    await row(page, 'app_sup').waitFor({ timeout: HANG });
  },

  // A kill from the page asks first; cancelled, nothing happens; confirmed, the
  // supervisor restarts the worker: a new pid in the table and a `restarted` event.
  async kill(page) {
    await page.goto(url);
    await page.waitForFunction(() => window.noexDashboard && window.noexDashboard.eventSubscription, null, {
      timeout: HANG,
    });
    const worker = row(page, 'worker-1');
    await worker.waitFor({ timeout: HANG });
    const before = await worker.getAttribute('data-pid');
    await worker.click();
    await page.locator(`#details-body[data-pid="${before}"]`).waitFor({ timeout: HANG });

    await page.locator('#kill-button').click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.waitFor({ state: 'visible', timeout: HANG });
    const question = await page.locator('#confirm-text').textContent();
    check(question.includes('worker-1'), `the confirmation names the process: ${question}`);
    await page.locator('#confirm-no').click();
    await dialog.waitFor({ state: 'hidden', timeout: HANG });

    await page.locator('#kill-button').click();
    await dialog.waitFor({ state: 'visible', timeout: HANG });
    await page.locator('#confirm-yes').click();
    await page.locator('#action-outcome[data-state="ok"]').waitFor({ timeout: HANG });

    await page.waitForFunction(
      (old) => {
        const tr = document.querySelector('#process-rows tr[data-name="worker-1"]');
        return tr && tr.dataset.pid !== old;
      },
      before,
      { timeout: HANG },
    );
    const after = await worker.getAttribute('data-pid');
    const restarted = page.locator('#event-rows tr[data-kind="restarted"][data-name="worker-1"]');
    await restarted.first().waitFor({ timeout: HANG });
    // Events come in order: a kill by the cancelled dialog would have restarted it first.
    check((await restarted.count()) === 1, 'the cancelled dialog killed nothing: one restart');
    check(
      (await restarted.first().getAttribute('data-pid')) === after,
      'the restart event names the new process the table shows',
    );
    // The details follow the worker to its new pid.
    await page.locator(`#details-body[data-pid="${after}"]`).waitFor({ timeout: HANG });
  },

  // A live query on the page shows a record's change that another client makes.
  async query(page, context) {
    const params = encodeURIComponent(JSON.stringify({ customer: 'c-02' }));
    await page.goto(`${url}?query=customer_orders&params=${params}`);
    const result = page.locator('#query-result td[data-key="name"]');
    await result.waitFor({ timeout: HANG });
    await page.waitForFunction(
      () => document.querySelector('#query-result td[data-key="name"]').textContent === 'Grace',
      null,
      { timeout: HANG },
    );

    // Another client, on a page of the same origin (the gateway takes WebSockets from
    // its own pages), renames the customer.
    const writer = await context.newPage();
    await writer.goto(`${url}nothing-here`);
    const reply = await writer.evaluate(
      (address) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(address);
          ws.onmessage = (message) => {
            const msg = JSON.parse(message.data);
            if (msg.type === 'welcome') {
              ws.send(
                JSON.stringify({
                  id: 1,
                  type: 'store.update',
                  bucket: 'customers',
                  key: 'c-02',
                  data: { name: 'Grace Hopper' },
                }),
              );
            } else if (msg.id === 1) {
              resolve(msg);
              ws.close();
            }
          };
          ws.onerror = () => reject(new Error('the writer could not connect'));
        }),
      url.replace(/^http/, 'ws'),
    );
    check(reply.type === 'result', `the update was taken: ${JSON.stringify(reply)}`);
    await page.waitForFunction(
      () => document.querySelector('#query-result td[data-key="name"]').textContent === 'Grace Hopper',
      null,
      { timeout: HANG },
    );
    check(Number(await page.locator('#query-result').getAttribute('data-updates')) >= 1, 'a push brought it');
  },

  // A gateway that asks for a token (tests/web.rs runs it, not the demo): the page asks
  // first and says why a token is refused; a viewer sees the processes but a kill is
  // FORBIDDEN. When the gateway stops, the page says so and tries again; when it is
  // back, the page logs in again by itself. The test process stops and starts the
  // gateway when this script says `stop` and `start` on its stdout.
  async auth(page) {
    await page.goto(url);
    await page.locator('#login').waitFor({ state: 'visible', timeout: HANG });
    await page.fill('#token', 'not-a-token');
    await page.click('#login-button');
    await page.locator('#login-error').filter({ hasText: 'UNAUTHORIZED' }).waitFor({ timeout: HANG });
    await page.fill('#token', 'viewer-token');
    await page.click('#login-button');
    await page.locator('#login').waitFor({ state: 'hidden', timeout: HANG });
    const listener = page.locator('#process-rows tr[data-name$="/listener"]');
    await listener.waitFor({ timeout: HANG });
    const before = await listener.getAttribute('data-pid');
    await listener.click();
    await page.click('#kill-button');
    await page.click('#confirm-yes');
    await page.locator('#action-outcome[data-state="error"]').filter({ hasText: 'FORBIDDEN' }).waitFor({ timeout: HANG });
    check((await listener.getAttribute('data-pid')) === before, 'the refused kill killed nothing');

    console.log('stop');
    await page.locator('#conn-status[data-state="disconnected"]').filter({ hasText: 'retrying' }).waitFor({ timeout: HANG });
    console.log('start');
    await page.locator('#conn-status[data-state="connected"]').waitFor({ timeout: HANG });
    check(await page.locator('#login').isHidden(), 'logged in again with the token it had');
    await page.locator('#process-rows tr[data-name$="/listener"]').waitFor({ timeout: HANG });
  },

  // The whole page once it has filled in, for a person to look at.
  async screenshot(page) {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.goto(`${url}?query=orders_by_status`);
    await row(page, 'worker-1').waitFor({ timeout: HANG });
    await page.locator('#bucket-rows tr[data-bucket="orders"]').waitFor({ timeout: HANG });
    await page.locator('#query-result td').first().waitFor({ timeout: HANG });
    // Sparklines need snapshots (one a second): wait until one has drawn ten points.
    await page.waitForFunction(
      () => [...document.querySelectorAll('#process-rows svg.spark polyline')].some((line) => line.points.length >= 10),
      null,
      { timeout: HANG },
    );
    await row(page, 'worker-1').click();
    await page.locator('#details-state').filter({ hasNotText: 'asking…' }).waitFor({ timeout: HANG });
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  },
};

const run = cases[caseName];
if (!run) {
  console.error(`no case ${caseName}; cases: ${Object.keys(cases).join(', ')}`);
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let failed = null;
const context = await browser.newContext();
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (message) => {
  if (message.type() === 'error') consoleErrors.push(message.text());
});
page.on('pageerror', (error) => consoleErrors.push(String(error)));
try {
  await run(page, context);
  check(consoleErrors.length === 0, `the page logged errors: ${consoleErrors.join(' | ')}`);
} catch (error) {
  failed = error;
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `failed-${caseName}.png`), fullPage: true }).catch(() => {});
}
await browser.close();
if (failed) {
  console.error(`${caseName}: ${failed.stack || failed}`);
  process.exit(1);
}
console.log(`${caseName}: passed`);
