// The dashboard end to end in Debian's chromium (/usr/bin/chromium, never a downloaded browser),
// driven by playwright-core. Run by verticles.http.DashboardTest, which starts a node, seeds it
// and passes in the environment:
//   PULSE_BASE_URL, ADMIN_USERNAME, ADMIN_PASSWORD, ALICE_USERNAME, ALICE_PASSWORD, ALICE_ID,
//   BOB_TOKEN (the other session that pays alice), DEAD_ERROR (the error text of the seeded dead
//   tasks), DEAD_COUNT, TASK_ID (a task that died after 3 attempts), TRANSFERS (how many to time),
//   RESULTS_FILE, SCREENSHOT_DIR (optional).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { ok, percentile } from './lib.mjs';

const env = process.env;
const BASE = env.PULSE_BASE_URL;
const results = {};
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run']
  });
});

after(async () => {
  await browser?.close();
  if (env.RESULTS_FILE) writeFileSync(env.RESULTS_FILE, JSON.stringify(results, null, 2));
});

/** A page that records every console error and uncaught exception. */
async function page(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const p = await context.newPage();
  p.problems = [];
  p.on('console', (message) => { if (message.type() === 'error') p.problems.push(`console: ${message.text()}`); });
  p.on('pageerror', (error) => p.problems.push(`page error: ${error.message}`));
  p.on('requestfailed', (request) => {
    if (!request.url().includes('/eventbus/')) p.problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  return p;
}

async function login(p, username, password) {
  await p.goto(BASE + '/');
  await p.getByLabel('Username or email').fill(username);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.locator('#live.on').waitFor({ timeout: 10000 });
}

async function screenshot(p, name) {
  if (!env.SCREENSHOT_DIR) return;
  mkdirSync(env.SCREENSHOT_DIR, { recursive: true });
  await p.screenshot({ path: `${env.SCREENSHOT_DIR}/${name}.png`, fullPage: true });
}

/** Every form control is labelled, and nothing is wider than the window. */
async function accessible(p) {
  const unlabelled = await p.evaluate(() => Array.from(document.querySelectorAll('input, select, button'))
    .filter((e) => e.offsetParent !== null)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim())
    .map((e) => e.outerHTML.substring(0, 80)));
  assert.deepEqual(unlabelled, [], 'every visible control has a label');
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page fits the window (${overflow} px too wide)`);
  const notice = await p.evaluate(() => document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent);
  assert.equal(notice, '', 'the page shows no error');
}

test('a user logs in and sees a transfer from another session without a reload; 100 transfers timed', async () => {
  const p = await page();
  await login(p, env.ALICE_USERNAME, env.ALICE_PASSWORD);
  await p.locator('#balance').filter({ hasNotText: '…' }).waitFor();
  await p.evaluate(() => {
    window.balanceChanges = [];
    window.noReload = true;
    new MutationObserver(() => window.balanceChanges.push({ at: Date.now(), text: document.getElementById('balance').textContent }))
      .observe(document.getElementById('balance'), { childList: true, characterData: true, subtree: true });
  });
  const latencies = [];
  const transfers = Number(env.TRANSFERS ?? 100);
  for (let i = 0; i < transfers; i++) {
    const seen = await p.evaluate(() => window.balanceChanges.length);
    const tx = await ok('POST', '/api/v1/transactions/transfer', { token: env.BOB_TOKEN, body: { to_user_id: Number(env.ALICE_ID), amount: 1 + i } });
    await p.waitForFunction((n) => window.balanceChanges.length > n, seen, { timeout: 5000 });
    const change = await p.evaluate((n) => window.balanceChanges[n], seen);
    latencies.push(change.at - Date.parse(tx.created_at));
  }
  assert.equal(await p.evaluate(() => window.noReload), true, 'the page was not reloaded');
  const rows = await p.locator('#transactions-list tbody tr').count();
  assert.ok(rows >= 1, 'the recent transactions show the transfers');
  results.transferToPage = {
    transfers,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: Math.max(...latencies),
    measured: 'from the transaction\'s created_at (PostgreSQL clock_timestamp() inside the committing transaction) to the #balance DOM change in Chromium, same host clock'
  };
  await accessible(p);
  await screenshot(p, 'dashboard-desktop');
  assert.deepEqual(p.problems, [], 'no console errors');
  await p.context().close();
});

test('at phone width the overview fits and works', async () => {
  const p = await page({ width: 390, height: 844 });
  await login(p, env.ALICE_USERNAME, env.ALICE_PASSWORD);
  await p.locator('#balance').filter({ hasNotText: '…' }).waitFor();
  await p.locator('#my-tasks-list table').waitFor();
  await accessible(p);
  await screenshot(p, 'dashboard-phone');
  await p.locator('#my-jobs-list a').first().click();
  const images = p.locator('#job-detail tbody tr');
  await images.filter({ hasText: '1024' }).filter({ hasText: '3584' }).waitFor();
  await images.filter({ hasText: 'HTTP 404 from img.example.com' }).waitFor();
  await accessible(p);
  await screenshot(p, 'dashboard-job-phone');
  assert.deepEqual(p.problems, [], 'no console errors');
  await p.context().close();
});

test('an admin filters dead tasks by error text, dry-runs, retries all matching and watches the count fall', async () => {
  const p = await page();
  await login(p, env.ADMIN_USERNAME, env.ADMIN_PASSWORD);
  await p.getByRole('link', { name: 'Tasks', exact: true }).click();
  await p.getByLabel('State').selectOption('dead');
  await p.getByLabel('Error text').fill(env.DEAD_ERROR);
  await p.getByRole('button', { name: 'Search' }).click();
  await p.waitForURL(/#\/tasks\?status=dead&error=/);
  assert.match(decodeURIComponent(new URL(p.url()).hash), new RegExp(env.DEAD_ERROR.replace(/[()]/g, '.')), 'the search is in the URL (bookmarkable)');
  // The search rebuilds the view: a first row may be the unfiltered table's, just before it is
  // replaced by an empty one (seen once: 0 rows). Wait for a full page, then check it.
  await p.waitForFunction(() => document.querySelectorAll('#task-results tbody tr').length === 50, null, { timeout: 10000 })
    .catch(() => {});
  assert.equal(await p.locator('#task-results tbody tr').count(), 50, 'a first page of 50');

  await p.getByRole('button', { name: 'Count matching (dry run)' }).click();
  await p.locator('#bulk-matching').filter({ hasText: env.DEAD_COUNT }).waitFor();
  await screenshot(p, 'dashboard-tasks-desktop');
  await p.evaluate(() => {
    window.counts = [document.getElementById('bulk-matching').textContent];
    new MutationObserver(() => window.counts.push(document.getElementById('bulk-matching').textContent))
      .observe(document.getElementById('bulk-matching'), { childList: true, characterData: true, subtree: true });
  });
  const run = p.getByRole('button', { name: `Retry all ${env.DEAD_COUNT} matching` });
  await run.click();
  await p.locator('#bulk-matching').filter({ hasText: /^0$/ }).waitFor({ timeout: 20000 });
  await p.locator('#bulk-progress .badge.done').waitFor({ timeout: 20000 });
  const counts = await p.evaluate(() => window.counts);
  assert.equal(counts[0], env.DEAD_COUNT);
  assert.equal(counts[counts.length - 1], '0');
  await p.locator('#task-results').getByText('No task matches.').waitFor({ timeout: 10000 });
  results.retryAllMatching = { counts };
  await screenshot(p, 'dashboard-bulk-done-desktop');

  const views = { 'Queues': '#queues-list table', 'Dead letters': '#dead-groups table', 'Schedules': '#schedules-list table',
    'Nodes': '#nodes-list table' };
  for (const [view, content] of Object.entries(views)) {
    await p.getByRole('link', { name: view, exact: true }).click();
    await p.locator(content).waitFor();
    await accessible(p);
  }
  await p.getByRole('link', { name: 'Dead letters', exact: true }).click();
  await p.locator('#dead-groups tbody tr').filter({ hasText: 'connection refused' }).waitFor();
  await screenshot(p, 'dashboard-dead-desktop');
  await p.locator('#dead-groups tbody tr').filter({ hasText: 'asked to fail' }).getByRole('link', { name: 'Show' }).click();
  await p.locator(`#task-results a[href="#/task/${env.TASK_ID}"]`).click();
  await p.locator('#task-detail ol.timeline li').nth(6).waitFor();
  assert.equal(await p.locator('#task-detail tbody tr').count(), 3, 'three attempts, each with its error and duration');
  await accessible(p);
  await screenshot(p, 'dashboard-task-desktop');
  await p.getByRole('link', { name: 'Queues', exact: true }).click();
  await p.locator('#queues-list table').waitFor();
  await p.locator('#throughput-chart svg').waitFor();
  await screenshot(p, 'dashboard-queues-desktop');
  await p.getByRole('link', { name: 'Nodes', exact: true }).click();
  await p.locator('#nodes-list tbody tr').first().waitFor();
  await screenshot(p, 'dashboard-nodes-desktop');
  assert.deepEqual(p.problems, [], 'no console errors');
  await p.context().close();
});

test('with the socket down the page says so, polls, and still shows a transfer', async () => {
  const p = await page({ width: 390, height: 844 });
  await p.route('**/eventbus/**', (route) => route.abort());
  await p.goto(BASE + '/');
  await p.getByLabel('Username or email').fill(env.ALICE_USERNAME);
  await p.getByLabel('Password').fill(env.ALICE_PASSWORD);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.locator('#live.off').filter({ hasText: 'refreshing every 5 s' }).waitFor();
  await p.locator('#balance').filter({ hasNotText: '…' }).waitFor();
  const before = await p.locator('#balance').textContent();
  await ok('POST', '/api/v1/transactions/transfer', { token: env.BOB_TOKEN, body: { to_user_id: Number(env.ALICE_ID), amount: 1000 } });
  await p.waitForFunction((text) => document.getElementById('balance').textContent !== text, before, { timeout: 8000 });
  await screenshot(p, 'dashboard-phone-polling');
  await p.context().close();
});
