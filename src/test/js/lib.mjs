// Helpers for the Node tests: the REST API, the official event-bus client, and waiting for
// conditions (with a deadline, never a fixed sleep).
import EventBus from '@vertx/eventbus-bridge-client.js';

export const BASE = process.env.PULSE_BASE_URL ?? 'http://127.0.0.1:8080';

/** One HTTP call; resolves to {status, body} (body parsed when JSON), never throws on a status. */
export async function api(method, path, { token, body, headers = {} } = {}) {
  const all = { Accept: 'application/json', ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  if (body !== undefined) all['Content-Type'] = 'application/json';
  const response = await fetch(BASE + path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: response.status, body: json, headers: response.headers };
}

export async function ok(method, path, options) {
  const reply = await api(method, path, options);
  if (reply.status >= 300) throw new Error(`${method} ${path} -> ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Resolves when check() returns a truthy value (polled every 10 ms); rejects after timeoutMs naming what. */
export function waitFor(what, check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      let value;
      try { value = check(); } catch (e) { reject(e); return; }
      if (value) { resolve(value); return; }
      if (Date.now() > deadline) { reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); return; }
      setTimeout(tick, 10);
    };
    tick();
  });
}

/**
 * A socket to the bridge through the official client, recording everything it hears:
 * messages per address, errors (addressed refusals and the bridge's own "rejected"), closes.
 */
export async function openBus() {
  const eb = new EventBus(`${BASE}/eventbus`);
  const socket = { eb, messages: [], errors: [], closed: false };
  eb.onerror = (error) => socket.errors.push(error);
  eb.onunhandled = (json) => socket.errors.push(json);
  eb.onclose = () => { socket.closed = true; };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bridge did not open within 5 s')), 5000);
    eb.onopen = () => { clearTimeout(timer); resolve(); };
  });
  /** Registers address (with frame headers); its messages and addressed errors are recorded. */
  socket.register = (address, headers = {}) => {
    eb.registerHandler(address, headers, (error, message) => {
      if (error) socket.errors.push({ address, ...error });
      else socket.messages.push({ address, body: message.body, at: Date.now() });
    });
  };
  socket.received = (predicate) => socket.messages.find(predicate);
  socket.refusal = (address) => socket.errors.find((e) => e.address === address);
  socket.rejected = () => socket.errors.find((e) => e.type === 'err' && e.body === 'rejected');
  socket.close = () => { try { eb.close(); } catch { /* closed already */ } };
  return socket;
}

export async function ticket(token) {
  return (await ok('POST', '/api/v1/bridge/ticket', { token })).ticket;
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
