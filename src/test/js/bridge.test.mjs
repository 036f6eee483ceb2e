// The event-bus bridge through the official client (@vertx/eventbus-bridge-client.js over
// sockjs-client), as a browser would use it. Run by verticles.http.BridgeTest, which starts a
// node, makes the users and passes their tokens in the environment:
//   PULSE_BASE_URL, ADMIN_TOKEN, ADMIN_ID, ALICE_TOKEN, ALICE_ID, BOB_TOKEN, BOB_ID, CAROL_TOKEN,
//   CAROL_ID (deleted here), DAVE_TOKEN, DAVE_ID (disabled here), SHORT_TOKEN (alice's, expiring
//   at SHORT_EXPIRES_AT ms), EXPIRED_TOKEN, MATRIX_FILE (where the refusal matrix is written).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { api, ok, openBus, ticket, waitFor } from './lib.mjs';

const env = process.env;
const ALICE = Number(env.ALICE_ID);
const BOB = Number(env.BOB_ID);
const matrix = [];
const sockets = [];

/** One line of the refusal matrix: what was tried, what must happen, what happened. */
function row(attempt, expected, observed) {
  matrix.push({ attempt, expected, observed });
}

async function socket() {
  const s = await openBus();
  sockets.push(s);
  return s;
}

/** Registers and waits for the bridge's acknowledgement: from then on nothing sent there is missed. */
async function subscribed(s, address, headers) {
  s.register(address, headers);
  await waitFor(`the registration of ${address}`, () => s.received((m) => m.address === address && m.body.type === 'bridge.registered')
    || s.refusal(address));
  const refusal = s.refusal(address);
  if (refusal) throw new Error(`${address} was refused: ${JSON.stringify(refusal)}`);
}

async function transfer(fromToken, to, amount) {
  return ok('POST', '/api/v1/transactions/transfer', { token: fromToken, body: { to_user_id: to, amount } });
}

after(() => {
  sockets.forEach((s) => s.close());
  if (env.MATRIX_FILE) writeFileSync(env.MATRIX_FILE, JSON.stringify(matrix, null, 2));
});

test('a user receives their own balance.changed within 1 s of a transfer', async () => {
  const alice = await socket();
  await subscribed(alice, `events.user.${ALICE}`, { ticket: await ticket(env.ALICE_TOKEN) });
  const started = Date.now();
  const tx = await transfer(env.BOB_TOKEN, ALICE, 125);
  const event = await waitFor('alice\'s balance.changed', () => alice.received((m) => m.body.type === 'balance.changed'
    && m.body.transaction_id === tx.id), 1000);
  row(`alice registers events.user.${ALICE} (own) with a fresh ticket`, 'allowed; pushes arrive', `allowed; balance.changed after ${event.at - started} ms`);
});

test('registering another user\'s address or events.admin as a user is refused, and nothing of theirs arrives', async () => {
  const alice = await socket();
  await subscribed(alice, `events.user.${ALICE}`, { ticket: await ticket(env.ALICE_TOKEN) });
  alice.register(`events.user.${BOB}`);
  alice.register('events.admin');
  const other = await waitFor('the refusal of bob\'s address', () => alice.refusal(`events.user.${BOB}`));
  const adminOnly = await waitFor('the refusal of events.admin', () => alice.refusal('events.admin'));
  assert.equal(other.failureCode, 403);
  assert.equal(other.message, 'not_your_address');
  assert.equal(adminOnly.failureCode, 403);
  assert.equal(adminOnly.message, 'admins_only');
  // Bob's events are published before alice's for a transfer from bob: once alice hears hers, bob's would be here.
  const tx = await transfer(env.BOB_TOKEN, ALICE, 7);
  await waitFor('alice\'s own event', () => alice.received((m) => m.body.transaction_id === tx.id));
  assert.equal(alice.messages.filter((m) => m.address !== `events.user.${ALICE}`).length, 0, 'nothing from bob\'s address or events.admin');
  row(`alice registers events.user.${BOB} (another user)`, 'refused 403', `refused ${other.failureCode} ${other.message}; none of bob's pushes delivered`);
  row('alice (a user) registers events.admin', 'refused 403', `refused ${adminOnly.failureCode} ${adminOnly.message}; no admin pushes delivered`);
});

test('an admin may register events.admin and hears other users\' task events', async () => {
  const admin = await socket();
  const headers = { ticket: await ticket(env.ADMIN_TOKEN) };
  await subscribed(admin, `events.user.${env.ADMIN_ID}`, headers);
  await subscribed(admin, 'events.admin', headers);
  const task = await ok('POST', '/api/v1/tasks', { token: env.ALICE_TOKEN, body: { type: 'noop', payload: {} } });
  await waitFor('the task\'s event on events.admin', () => admin.received((m) => m.address === 'events.admin' && m.body.task?.id === task.id));
  row('an admin registers events.admin', 'allowed', 'allowed; other users\' task events arrive');
});

test('sending or publishing into the bus is refused and changes nothing', async () => {
  const alice = await socket();
  await subscribed(alice, `events.user.${ALICE}`, { ticket: await ticket(env.ALICE_TOKEN) });
  const before = await ok('GET', '/api/v1/balances/current', { token: env.BOB_TOKEN });
  alice.eb.send('ledger.transfer', { from_user_id: BOB, to_user_id: ALICE, amount: 100000 }, { 'x-user-id': String(BOB), 'x-roles': 'admin' });
  await waitFor('the refusal of a send', () => alice.rejected());
  alice.errors.length = 0;
  alice.eb.publish(`events.user.${BOB}`, { type: 'balance.changed' });
  await waitFor('the refusal of a publish', () => alice.rejected());
  alice.errors.length = 0;
  alice.eb.send('ledger.transfer', { from_user_id: BOB, to_user_id: ALICE, amount: 1 }, (error) => alice.errors.push({ reply: error }));
  await waitFor('the refusal of a request', () => alice.rejected());
  const after = await ok('GET', '/api/v1/balances/current', { token: env.BOB_TOKEN });
  assert.deepEqual(after.balances.map((b) => b.amount), before.balances.map((b) => b.amount), 'bob\'s money did not move');
  row('alice sends to ledger.transfer (with forged x-user-id / x-roles headers)', 'refused', 'refused ("rejected"); no money moved');
  row('alice sends with a reply address (request) to ledger.transfer', 'refused', 'refused ("rejected")');
  row(`alice publishes to events.user.${BOB}`, 'refused', 'refused ("rejected")');
});

test('no ticket, a bad ticket and a used ticket are refused and the socket is closed', async () => {
  const none = await socket();
  none.register(`events.user.${ALICE}`);
  const noTicket = await waitFor('the refusal without a ticket', () => none.refusal(`events.user.${ALICE}`));
  await waitFor('the socket without a ticket to close', () => none.closed);
  assert.equal(noTicket.failureCode, 401);

  const bad = await socket();
  bad.register(`events.user.${ALICE}`, { ticket: 'not-a-ticket' });
  const badTicket = await waitFor('the refusal of a bad ticket', () => bad.refusal(`events.user.${ALICE}`));
  await waitFor('the socket with a bad ticket to close', () => bad.closed);
  assert.equal(badTicket.failureCode, 401);

  const once = await ticket(env.ALICE_TOKEN);
  const first = await socket();
  await subscribed(first, `events.user.${ALICE}`, { ticket: once });
  const second = await socket();
  second.register(`events.user.${ALICE}`, { ticket: once });
  const reused = await waitFor('the refusal of a used ticket', () => second.refusal(`events.user.${ALICE}`));
  assert.equal(reused.message, 'bad_ticket');

  const inUrl = await api('GET', `/eventbus/info?ticket=${once}&access_token=${env.ALICE_TOKEN}`);
  assert.equal(inUrl.status, 200, 'the SockJS info answers, but nothing in a URL authenticates');
  row('register with no ticket', 'refused 401, socket closed', `refused ${noTicket.failureCode} ${noTicket.message}, closed`);
  row('register with a made-up ticket', 'refused 401, socket closed', `refused ${badTicket.failureCode} ${badTicket.message}, closed`);
  row('register with a ticket another socket used', 'refused 401 (one use)', `refused ${reused.failureCode} ${reused.message}`);
});

test('a ticket needs a valid token: none, a bad one and an expired one are 401', async () => {
  const none = await api('POST', '/api/v1/bridge/ticket');
  const bad = await api('POST', '/api/v1/bridge/ticket', { token: 'eyJhbGciOiJIUzI1NiJ9.e30.bad' });
  const expired = await api('POST', '/api/v1/bridge/ticket', { token: env.EXPIRED_TOKEN });
  for (const reply of [none, bad, expired]) {
    assert.equal(reply.status, 401);
    assert.equal(reply.headers.get('content-type'), 'application/problem+json');
  }
  row('ticket with no token', '401', `${none.status} ${none.body.type}`);
  row('ticket with a bad token', '401', `${bad.status} ${bad.body.type}`);
  row('ticket with an expired token', '401', `${expired.status} ${expired.body.type}`);
});

test('a socket is told and closed when its token expires', async () => {
  const s = await socket();
  await subscribed(s, `events.user.${ALICE}`, { ticket: await ticket(env.SHORT_TOKEN) });
  const expiresAt = Number(env.SHORT_EXPIRES_AT);
  const closed = await waitFor('the session.closed push', () => s.received((m) => m.body.type === 'session.closed'),
    Math.max(1000, expiresAt - Date.now() + 3000));
  await waitFor('the socket to close', () => s.closed);
  assert.equal(closed.body.reason, 'token_expired');
  assert.ok(closed.at >= expiresAt - 50, `closed at the token's expiry, not before (${closed.at - expiresAt} ms)`);
  row('socket whose token expires while it is open', 'told, closed at expiry', `session.closed token_expired ${closed.at - expiresAt} ms after exp, closed`);
});

test('a deleted user\'s and a disabled user\'s open sockets are closed and stop receiving', async () => {
  const carol = await socket();
  await subscribed(carol, `events.user.${env.CAROL_ID}`, { ticket: await ticket(env.CAROL_TOKEN) });
  const dave = await socket();
  await subscribed(dave, `events.user.${env.DAVE_ID}`, { ticket: await ticket(env.DAVE_TOKEN) });
  const deletedAt = Date.now();
  await ok('DELETE', `/api/v1/users/${env.CAROL_ID}`, { token: env.ADMIN_TOKEN });
  await ok('PUT', `/api/v1/users/${env.DAVE_ID}`, { token: env.ADMIN_TOKEN, body: { status: 'disabled' } });
  const deleted = await waitFor('carol\'s session.closed', () => carol.received((m) => m.body.type === 'session.closed'), 3000);
  const disabled = await waitFor('dave\'s session.closed', () => dave.received((m) => m.body.type === 'session.closed'), 3000);
  await waitFor('both sockets to close', () => carol.closed && dave.closed, 3000);
  assert.equal(deleted.body.reason, 'revoked');
  assert.equal(disabled.body.reason, 'revoked');
  const again = await api('POST', '/api/v1/bridge/ticket', { token: env.CAROL_TOKEN });
  assert.equal(again.status, 401, 'no new ticket for a deleted user');
  row('open socket of a user who is then deleted', 'closed, nothing more delivered', `session.closed revoked ${deleted.at - deletedAt} ms after the delete, closed; new ticket 401`);
  row('open socket of a user who is then disabled', 'closed', `session.closed revoked, closed`);
});

test('a browser page of another origin cannot open the bridge', async () => {
  const foreign = await api('GET', '/eventbus/info', { headers: { Origin: 'http://evil.example' } });
  const own = await api('GET', '/eventbus/info', { headers: { Origin: new URL(process.env.PULSE_BASE_URL).origin } });
  assert.equal(foreign.status, 403);
  assert.equal(own.status, 200);
  row('connect with Origin: http://evil.example', 'refused 403', `${foreign.status}`);
  row('connect from the dashboard\'s own origin', 'allowed', `${own.status}`);
});

test('the page\'s libraries are served by Pulse, byte for byte the npm packages the tests run', async () => {
  const require = createRequire(import.meta.url);
  const files = {
    '/assets/vendor/vertx-eventbus.js': require.resolve('@vertx/eventbus-bridge-client.js/vertx-eventbus.js'),
    '/assets/vendor/sockjs.min.js': require.resolve('sockjs-client/dist/sockjs.min.js')
  };
  for (const [path, file] of Object.entries(files)) {
    const served = await fetch(process.env.PULSE_BASE_URL + path);
    assert.equal(served.status, 200, path);
    assert.equal(await served.text(), readFileSync(file, 'utf8'), `${path} is ${file}`);
  }
});
