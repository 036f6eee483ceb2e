/*
 * Pulse dashboard: plain JavaScript, no build step. Everything it shows comes from the REST API
 * (/api/v1, the same endpoints any client uses); it stays live through the event-bus bridge
 * (/eventbus, the official vertx-eventbus.js over SockJS), and falls back to polling every 5 s,
 * saying so, while the socket is down. Views are addressed by the URL's hash
 * (#/tasks?status=dead&error=timeout), so a search is a bookmark.
 */
(function () {
  'use strict';

  var POLL_MS = 5000;
  var STATES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];
  var FILTER_FIELDS = ['status', 'queue', 'type', 'from', 'to', 'payload', 'error', 'fingerprint', 'owner_id'];

  var state = {
    token: sessionStorage.getItem('pulse.token'),
    me: null,
    eb: null,
    live: false,
    route: null,
    pollTimer: null,
    hasOrders: false,
    bulk: null,         // the bulk job this page started and follows
    tasks: new Map(),   // my tasks shown on the overview, by id
    jobs: new Map()
  };

  // ---- small DOM helpers ----

  function $(id) { return document.getElementById(id); }

  /** el('td', {class: 'num', text: '3'}, child...): attributes, 'text', 'on<event>' handlers, then children. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) { return; }
      if (key === 'text') { node.textContent = String(value); }
      else if (key.indexOf('on') === 0) { node.addEventListener(key.substring(2), value); }
      else { node.setAttribute(key, value === true ? '' : String(value)); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) { continue; }
      node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  /** Empties a node; a node that is gone (the view changed while its data was on the way) gives a detached one. */
  function clear(node) {
    if (!node) { return document.createElement('div'); }
    while (node.firstChild) { node.removeChild(node.firstChild); }
    return node;
  }

  function card(title, id) {
    var section = el('section', {class: 'card', id: id, 'aria-labelledby': id ? id + '-title' : null});
    section.appendChild(el('h2', {id: id ? id + '-title' : null, text: title}));
    return section;
  }

  function table(caption, columns, rows, empty) {
    var head = el('tr', {});
    columns.forEach(function (c) { head.appendChild(el('th', {scope: 'col', class: c.num ? 'num' : null, text: c.label})); });
    var body = el('tbody', {});
    rows.forEach(function (row) {
      var tr = el('tr', {'data-id': row.id});
      columns.forEach(function (c) {
        var value = c.render ? c.render(row) : row[c.key];
        var td = el('td', {class: c.num ? 'num' : c.err ? 'err' : null, 'data-label': c.label});
        if (value instanceof Node) { td.appendChild(value); } else if (value !== null && value !== undefined) { td.textContent = String(value); }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    if (rows.length === 0) {
      body.appendChild(el('tr', {}, el('td', {colspan: columns.length, class: 'muted', text: empty || 'Nothing yet.'})));
    }
    return el('div', {class: 'table'}, el('table', {}, el('caption', {class: caption ? null : 'skip', text: caption || 'list'}),
      el('thead', {}, head), body));
  }

  function badge(status) { return el('span', {class: 'badge ' + status, text: status}); }

  function money(minor, currency) {
    var value = Number(minor) / 100;
    try {
      return new Intl.NumberFormat(undefined, {style: 'currency', currency: currency || 'USD'}).format(value);
    } catch (e) {
      return value.toFixed(2) + ' ' + (currency || '');
    }
  }

  function when(iso) {
    if (!iso) { return ''; }
    var date = new Date(iso);
    return date.toLocaleString(undefined, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'});
  }

  function duration(ms) {
    if (ms === null || ms === undefined) { return ''; }
    if (ms < 1000) { return Math.round(ms) + ' ms'; }
    if (ms < 60000) { return (ms / 1000).toFixed(1) + ' s'; }
    if (ms < 3600000) { return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s'; }
    return Math.floor(ms / 3600000) + ' h ' + Math.floor((ms % 3600000) / 60000) + ' min';
  }

  function flash(node) {
    if (!node) { return; }
    node.classList.remove('flash');
    void node.offsetWidth;  // restart the animation
    node.classList.add('flash');
  }

  function notice(text) {
    var box = $('notice');
    box.textContent = text || '';
    box.hidden = !text;
  }

  // ---- the API ----

  function ApiError(status, problem) {
    this.status = status;
    this.problem = problem || {};
    this.message = (problem && (problem.errors && problem.errors.length
      ? problem.errors.map(function (e) { return e.field + ': ' + e.message; }).join('; ')
      : problem.detail)) || ('HTTP ' + status);
  }

  function api(method, path, body) {
    var headers = {Accept: 'application/json'};
    if (state.token) { headers.Authorization = 'Bearer ' + state.token; }
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
    return fetch(path, {method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        return response.text().then(function (text) {
          var json = null;
          try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
          if (response.status === 401 && state.token && path !== '/api/v1/auth/login') {
            logout('Your session has ended; please log in again.');
          }
          if (!response.ok) { throw new ApiError(response.status, json); }
          return json;
        });
      });
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value !== undefined && value !== null && value !== '') {
        parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(value));
      }
    });
    return parts.length ? '?' + parts.join('&') : '';
  }

  function admin() { return state.me && state.me.role === 'admin'; }

  /** Runs fn now unless a run is under way; then once more after it (so a burst of pushes costs two fetches, not a hundred). */
  var runs = {};
  function coalesce(key, fn) {
    var run = runs[key] || (runs[key] = {busy: false, again: false});
    if (run.busy) { run.again = true; return; }
    run.busy = true;
    Promise.resolve().then(fn).catch(showError).then(function () {
      run.busy = false;
      if (run.again) { run.again = false; coalesce(key, fn); }
    });
  }

  /** At most once per ms: for views whose numbers change with every task. */
  var throttles = {};
  function throttle(key, ms, fn) {
    if (throttles[key]) { return; }
    throttles[key] = setTimeout(function () { delete throttles[key]; coalesce(key, fn); }, ms);
  }

  function showError(error) {
    if (error && error.status === 401) { return; }
    notice(error && error.message ? error.message : String(error));
  }

  // ---- session ----

  function login(username, password) {
    return api('POST', '/api/v1/auth/login', {username: username, password: password}).then(function (reply) {
      state.token = reply.access_token;
      sessionStorage.setItem('pulse.token', state.token);
      return start();
    });
  }

  function logout(message) {
    state.token = null;
    state.me = null;
    sessionStorage.removeItem('pulse.token');
    if (state.eb) {
      var eb = state.eb;
      state.eb = null;
      try { eb.close(); } catch (e) { /* already closed */ }
    }
    stopPolling();
    $('nav').hidden = true;
    $('session').hidden = true;
    clear($('view'));
    $('login').hidden = false;
    notice(message || '');
  }

  function start() {
    return api('GET', '/api/v1/me').then(function (me) {
      state.me = me;
      $('login').hidden = true;
      $('nav').hidden = false;
      $('session').hidden = false;
      $('whoami').textContent = me.username + (me.role === 'admin' ? ' (admin)' : '');
      Array.prototype.forEach.call(document.querySelectorAll('[data-admin]'), function (link) { link.hidden = !admin(); });
      notice('');
      fetch('/openapi.yaml').then(function (r) { return r.text(); }).then(function (text) {
        state.hasOrders = text.indexOf('/api/v1/orders:') >= 0;
      }).catch(function () { state.hasOrders = false; });
      connect();
      render();
    });
  }

  // ---- live: the event-bus bridge ----

  function setLive(live) {
    state.live = live;
    var badgeNode = $('live');
    badgeNode.className = 'live ' + (live ? 'on' : 'off');
    badgeNode.textContent = live ? 'Live' : 'Live updates off: refreshing every 5 s';
    if (live) { stopPolling(); } else { startPolling(); }
  }

  function startPolling() {
    if (!state.pollTimer && state.me) {
      state.pollTimer = setInterval(function () { coalesce('view', refresh); }, POLL_MS);
    }
  }

  function stopPolling() {
    if (state.pollTimer) { clearInterval(state.pollTimer); state.pollTimer = null; }
  }

  function connect() {
    var eb = new EventBus('/eventbus', {vertxbus_reconnect_delay_max: 10000});
    state.eb = eb;
    eb.enableReconnect(true);
    // The client's defaults write to the console; the page says what matters instead.
    eb.onerror = function () { /* refusals come back to the handlers */ };
    eb.onunhandled = function () { };
    eb.onopen = function () {
      if (state.eb !== eb) { return; }
      api('POST', '/api/v1/bridge/ticket').then(function (ticket) {
        var headers = {ticket: ticket.ticket};
        eb.registerHandler('events.user.' + state.me.id, headers, onPush);
        if (ticket.addresses.indexOf('events.admin') >= 0) {
          eb.registerHandler('events.admin', headers, onPush);
        }
        setLive(true);
        coalesce('view', refresh);  // catch up on what happened while the socket was down
      }).catch(function (error) { showError(error); setLive(false); });
    };
    eb.onclose = function () { if (state.eb === eb) { setLive(false); } };
    setLive(false);
  }

  function onPush(error, message) {
    if (error) {
      setLive(false);
      notice('Live updates were refused (' + (error.message || 'error') + '); refreshing every 5 s instead.');
      return;
    }
    var event = message.body || {};
    var type = event.type || '';
    var view = state.route && state.route.view;
    if (type === 'session.closed') {
      logout(event.reason === 'token_expired' ? 'Your session has expired; please log in again.' : 'Your session was ended (' + event.reason + ').');
    } else if (type === 'balance.changed' || type === 'transaction.created') {
      if (view === 'overview') { coalesce('money', refreshMoney); }
    } else if (type.indexOf('task.') === 0) {
      taskChanged(event.task, message.address);
    } else if (type === 'job.progress') {
      jobChanged(event.job);
    } else if (type === 'bulk.progress') {
      bulkChanged(event.bulk);
    } else if (type.indexOf('schedule.') === 0) {
      if (view === 'schedules') { coalesce('view', refresh); }
    } else if (type === 'events.dropped') {
      coalesce('view', refresh);  // too many to show one by one: read the view again
    }
  }

  function taskChanged(task, address) {
    var view = state.route && state.route.view;
    if (view === 'overview' && task && address !== 'events.admin' && task.owner_id === state.me.id) {
      state.tasks.set(task.id, task);
      throttle('my-tasks', 250, drawMyTasks);
    } else if (view === 'queues') {
      throttle('view', 1000, refresh);
    } else if (view === 'task' && task && String(task.id) === state.route.id) {
      coalesce('view', refresh);
    } else if (view === 'nodes') {
      throttle('view', 2000, refresh);
    }
  }

  function jobChanged(job) {
    var view = state.route && state.route.view;
    if (view === 'overview' && job && job.owner_id === state.me.id) {
      state.jobs.set(job.id, job);
      throttle('my-jobs', 250, drawMyJobs);
    } else if (view === 'job' && job && String(job.id) === state.route.id) {
      throttle('view', 500, refresh);
    }
  }

  // ---- routing ----

  function parseRoute() {
    var hash = location.hash.replace(/^#/, '') || '/';
    var q = hash.indexOf('?');
    var path = q >= 0 ? hash.substring(0, q) : hash;
    var params = {};
    if (q >= 0) {
      hash.substring(q + 1).split('&').forEach(function (pair) {
        if (!pair) { return; }
        var eq = pair.indexOf('=');
        var key = decodeURIComponent(eq >= 0 ? pair.substring(0, eq) : pair);
        params[key] = eq >= 0 ? decodeURIComponent(pair.substring(eq + 1).replace(/\+/g, ' ')) : '';
      });
    }
    var parts = path.split('/').filter(Boolean);
    return {view: parts[0] || 'overview', id: parts[1], params: params};
  }

  function render() {
    if (!state.me) { return; }
    state.route = parseRoute();
    if (['queues', 'tasks', 'dead', 'schedules', 'nodes'].indexOf(state.route.view) >= 0 && !admin()) {
      location.hash = '#/';
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (link) {
      var target = link.getAttribute('href').replace(/^#\/?/, '') || 'overview';
      var current = state.route.view === 'task' ? 'tasks' : state.route.view === 'job' ? 'overview' : state.route.view;
      if (target === current) { link.setAttribute('aria-current', 'page'); } else { link.removeAttribute('aria-current'); }
    });
    var view = clear($('view'));
    var draw = VIEWS[state.route.view] || VIEWS.overview;
    draw(view);
    coalesce('view', refresh);
  }

  /** Re-reads what the current view shows. */
  function refresh() {
    var refreshers = REFRESH[state.route ? state.route.view : 'overview'] || REFRESH.overview;
    return Promise.all(refreshers.map(function (fn) { return fn(); }));
  }

  // ---- overview: money, my tasks, my jobs ----

  var VIEWS = {};
  var REFRESH = {};

  VIEWS.overview = function (view) {
    var grid = el('div', {class: 'grid'});
    var balance = card('My balance', 'balance-card');
    balance.appendChild(el('div', {id: 'balance', class: 'big', 'aria-live': 'polite', text: '…'}));
    var form = el('form', {id: 'transfer-form', class: 'inline', 'aria-label': 'Send money'},
      el('div', {}, el('label', {for: 'to-user', text: 'To user id'}), el('input', {id: 'to-user', inputmode: 'numeric', required: true})),
      el('div', {}, el('label', {for: 'amount', text: 'Amount (cents)'}), el('input', {id: 'amount', inputmode: 'numeric', required: true})),
      el('button', {type: 'submit', text: 'Send'}));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      api('POST', '/api/v1/transactions/transfer', {to_user_id: Number($('to-user').value), amount: Number($('amount').value)})
        .then(function () { $('transfer-result').textContent = 'Sent.'; $('amount').value = ''; })
        .catch(function (error) { $('transfer-result').textContent = error.message; });
    });
    balance.appendChild(el('h3', {text: 'Send money'}));
    balance.appendChild(form);
    balance.appendChild(el('p', {id: 'transfer-result', role: 'status'}));
    grid.appendChild(balance);
    var transactions = card('Recent transactions', 'transactions');
    transactions.appendChild(el('div', {id: 'transactions-list'}));
    grid.appendChild(transactions);
    view.appendChild(grid);
    var tasks = card('My tasks', 'my-tasks');
    tasks.appendChild(el('div', {id: 'my-tasks-list'}));
    view.appendChild(tasks);
    var jobs = card('My image jobs', 'my-jobs');
    jobs.appendChild(el('div', {id: 'my-jobs-list'}));
    view.appendChild(jobs);
    if (state.hasOrders) {
      var orders = card('My orders', 'my-orders');
      orders.appendChild(el('div', {id: 'my-orders-list'}));
      view.appendChild(orders);
    }
  };

  function refreshMoney() {
    return Promise.all([api('GET', '/api/v1/balances/current'), api('GET', '/api/v1/transactions/history?limit=10')]).then(function (replies) {
      var node = $('balance');
      if (!node) { return; }
      var balances = replies[0].balances;
      var text = balances.length ? balances.map(function (b) { return money(b.amount, b.currency); }).join(' · ') : money(0);
      if (node.textContent !== text) { node.textContent = text; flash(node); }
      var list = $('transactions-list');
      clear(list).appendChild(table('', [
        {label: 'When', render: function (t) { return when(t.created_at); }},
        {label: 'What', render: function (t) { return t.type + (t.description ? ': ' + t.description : ''); }},
        {label: 'Change', num: true, render: function (t) { return money(t.change, t.currency); }},
        {label: 'Balance', num: true, render: function (t) { return money(t.balance_after, t.currency); }}
      ], replies[1].items, 'No transactions yet.'));
    });
  }

  function refreshMyTasks() {
    return api('GET', '/api/v1/tasks' + query({owner_id: admin() ? state.me.id : null, limit: 20})).then(function (page) {
      state.tasks = new Map();
      page.items.forEach(function (t) { state.tasks.set(t.id, t); });
      drawMyTasks();
    });
  }

  function drawMyTasks() {
    var list = $('my-tasks-list');
    if (!list) { return; }
    var rows = Array.from(state.tasks.values()).sort(function (a, b) { return b.id - a.id; }).slice(0, 20);
    clear(list).appendChild(table('', [
      {label: 'Task', render: function (t) { return admin() ? el('a', {href: '#/task/' + t.id, text: '#' + t.id}) : '#' + t.id; }},
      {label: 'Type', key: 'type'},
      {label: 'Status', render: function (t) { return badge(t.status); }},
      {label: 'Progress', render: progressOf},
      {label: 'Attempts', num: true, render: function (t) { return t.attempts + '/' + t.max_attempts; }},
      {label: 'Last error', err: true, key: 'last_error'}
    ], rows, 'No tasks yet.'));
  }

  function progressOf(task) {
    var p = task.progress;
    if (!p || typeof p !== 'object') { return task.status === 'succeeded' ? '100%' : ''; }
    if (typeof p.percent === 'number') { return Math.round(p.percent) + '%'; }
    if (typeof p.done === 'number' && typeof p.total === 'number' && p.total > 0) { return p.done + '/' + p.total; }
    return JSON.stringify(p).substring(0, 60);
  }

  function refreshMyJobs() {
    return api('GET', '/api/v1/jobs?limit=10').then(function (page) {
      state.jobs = new Map();
      page.items.filter(function (j) { return j.owner_id === state.me.id; }).forEach(function (j) { state.jobs.set(j.id, j); });
      drawMyJobs();
    });
  }

  function drawMyJobs() {
    var list = $('my-jobs-list');
    if (!list) { return; }
    var rows = Array.from(state.jobs.values()).sort(function (a, b) { return b.id - a.id; }).slice(0, 10);
    clear(list).appendChild(table('', [
      {label: 'Job', render: function (j) { return el('a', {href: '#/job/' + j.id, text: '#' + j.id}); }},
      {label: 'Status', render: function (j) { return badge(j.status); }},
      {label: 'Images', render: function (j) { return progressBar(j.done, j.total, 'Job ' + j.id + ' images done'); }},
      {label: 'Failed', num: true, key: 'failed'},
      {label: 'Created', render: function (j) { return when(j.created_at); }}
    ], rows, 'No image jobs yet.'));
  }

  function progressBar(done, total, label) {
    var percent = total > 0 ? Math.min(100, Math.round(done * 100 / total)) : 0;
    return el('div', {},
      el('div', {class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done},
        el('span', {style: 'width:' + percent + '%'})),
      el('span', {class: 'muted', text: done + ' / ' + total}));
  }

  function refreshMyOrders() {
    if (!state.hasOrders || !$('my-orders-list')) { return Promise.resolve(); }
    return api('GET', '/api/v1/orders?limit=10').then(function (page) {
      clear($('my-orders-list')).appendChild(table('', [
        {label: 'Order', render: function (o) { return '#' + o.id; }},
        {label: 'Product', key: 'product_id'},
        {label: 'Quantity', num: true, key: 'quantity'},
        {label: 'Amount', num: true, render: function (o) { return o.amount === null ? '' : money(o.amount, o.currency); }},
        {label: 'Status', render: function (o) { return badge(o.status); }}
      ], page.items || [], 'No orders yet.'));
    });
  }

  REFRESH.overview = [refreshMoney, refreshMyTasks, refreshMyJobs, refreshMyOrders];

  // ---- a job's images ----

  VIEWS.job = function (view) {
    var box = card('Image job #' + state.route.id, 'job');
    box.appendChild(el('div', {id: 'job-detail'}));
    view.appendChild(box);
  };

  REFRESH.job = [function () {
    return api('GET', '/api/v1/jobs/' + encodeURIComponent(state.route.id)).then(function (job) {
      var images = [];
      (job.visits || []).forEach(function (visit) {
        (visit.images || []).forEach(function (image) { image.store_id = visit.store_id; images.push(image); });
      });
      var detail = clear($('job-detail'));
      detail.appendChild(el('p', {}, badge(job.status), ' ', job.done + ' of ' + job.total + ' images done, ' + job.failed + ' failed'));
      detail.appendChild(progressBar(job.done, job.total, 'images done'));
      detail.appendChild(table('Images', [
        {label: 'Store', key: 'store_id'},
        {label: 'URL', render: function (i) { return el('span', {class: 'url', text: i.url}); }},
        {label: 'Width', num: true, key: 'width'},
        {label: 'Height', num: true, key: 'height'},
        {label: 'Perimeter', num: true, key: 'perimeter'},
        {label: 'Status', render: function (i) { return badge(i.status); }},
        {label: 'Error', err: true, render: function (i) { return i.error || i.error_message; }}
      ], images));
    });
  }];

  // ---- admin: queues, throughput, latency ----

  VIEWS.queues = function (view) {
    var box = card('Queues', 'queues');
    box.appendChild(el('div', {id: 'queues-list'}));
    view.appendChild(box);
    var chart = card('Throughput, last hour (tasks per minute)', 'throughput');
    chart.appendChild(el('div', {id: 'throughput-chart'}));
    view.appendChild(chart);
  };

  REFRESH.queues = [function () {
    return Promise.all([api('GET', '/api/v1/queues'), api('GET', '/api/v1/stats')]).then(function (replies) {
      var latency = {};
      (replies[1].latency || []).forEach(function (l) { latency[l.queue] = l; });
      var fmt = function (p) { return p ? [p.p50, p.p95, p.p99].map(function (v) { return v === null ? '–' : duration(v); }).join(' / ') : '–'; };
      clear($('queues-list')).appendChild(table('', [
        {label: 'Queue', key: 'name'},
        {label: 'Ready', num: true, key: 'ready'},
        {label: 'Delayed', num: true, key: 'delayed'},
        {label: 'Running', num: true, key: 'running'},
        {label: 'Dead', num: true, render: function (q) { return el('a', {href: '#/tasks' + query({status: 'dead', queue: q.name}), text: q.dead}); }},
        {label: 'Done/s', num: true, render: function (q) { return q.completed_per_s.toFixed(1); }},
        {label: 'Oldest ready', num: true, render: function (q) { return duration(q.oldest_ready_age_ms); }},
        {label: 'Wait p50/95/99', render: function (q) { return fmt(latency[q.name] && latency[q.name].wait_ms); }},
        {label: 'Run p50/95/99', render: function (q) { return fmt(latency[q.name] && latency[q.name].run_ms); }},
        {label: 'Limits', render: queueLimits}
      ], replies[0].items, 'No queues yet.'));
      drawChart(replies[1].throughput || []);
    });
  }];

  function queueLimits(q) {
    var concurrency = el('input', {type: 'number', min: 1, value: q.concurrency, 'aria-label': 'Concurrency of ' + q.name, placeholder: 'no limit', style: 'width:7em'});
    var rate = el('input', {type: 'number', min: 1, value: q.rate_per_s, 'aria-label': 'Tasks per second of ' + q.name, placeholder: 'no limit', style: 'width:7em'});
    var save = el('button', {type: 'button', class: 'secondary', text: 'Set', onclick: function () {
      api('PATCH', '/api/v1/queues/' + encodeURIComponent(q.name), {
        concurrency: concurrency.value ? Number(concurrency.value) : null,
        rate_per_s: rate.value ? Number(rate.value) : null
      }).then(function () { coalesce('view', refresh); }).catch(showError);
    }});
    var pause = el('button', {type: 'button', class: q.paused ? '' : 'secondary', text: q.paused ? 'Resume' : 'Pause', onclick: function () {
      api('PATCH', '/api/v1/queues/' + encodeURIComponent(q.name), {paused: !q.paused}).then(function () { coalesce('view', refresh); }).catch(showError);
    }});
    return el('div', {class: 'inline'}, concurrency, rate, save, pause);
  }

  function drawChart(minutes) {
    var box = clear($('throughput-chart'));
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 600 120');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    var total = 0;
    var max = 1;
    minutes.forEach(function (m) { max = Math.max(max, m.succeeded + m.failed + m.dead); total += m.succeeded; });
    svg.setAttribute('aria-label', 'Tasks completed per minute over the last hour; ' + total + ' succeeded in all');
    var width = 600 / Math.max(1, minutes.length);
    minutes.forEach(function (m, i) {
      var ok = m.succeeded / max * 110;
      var bad = (m.failed + m.dead) / max * 110;
      [[ok, 120 - ok, '#1a7f37'], [bad, 120 - ok - bad, '#b3261e']].forEach(function (bar) {
        if (bar[0] <= 0) { return; }
        var rect = document.createElementNS(ns, 'rect');
        rect.setAttribute('x', String(i * width + 1));
        rect.setAttribute('y', String(bar[1]));
        rect.setAttribute('width', String(Math.max(1, width - 2)));
        rect.setAttribute('height', String(bar[0]));
        rect.setAttribute('fill', bar[2]);
        svg.appendChild(rect);
      });
    });
    box.appendChild(svg);
    box.appendChild(el('p', {class: 'legend'}, el('span', {}, el('i', {style: 'background:#1a7f37'}), 'succeeded'),
      el('span', {}, el('i', {style: 'background:#b3261e'}), 'failed or dead'),
      el('span', {class: 'muted', text: 'busiest minute: ' + max})));
  }

  // ---- admin: task search and bulk actions ----

  VIEWS.tasks = function (view) {
    var p = state.route.params;
    var fields = el('div', {class: 'inline'});
    var status = el('select', {id: 'f-status', name: 'status'}, el('option', {value: '', text: 'any'}));
    STATES.forEach(function (s) { status.appendChild(el('option', {value: s, text: s, selected: p.status === s})); });
    fields.appendChild(el('div', {}, el('label', {for: 'f-status', text: 'State'}), status));
    [['queue', 'Queue', 'text'], ['type', 'Type', 'text'], ['from', 'Created from', 'datetime-local'], ['to', 'Created before', 'datetime-local'],
      ['payload', 'Payload field', 'text'], ['error', 'Error text', 'search'], ['fingerprint', 'Fingerprint', 'text']].forEach(function (f) {
      var value = p[f[0]] || '';
      if (f[2] === 'datetime-local' && value && !isNaN(Date.parse(value))) {
        var local = new Date(value);
        value = new Date(local.getTime() - local.getTimezoneOffset() * 60000).toISOString().substring(0, 16);
      }
      fields.appendChild(el('div', {}, el('label', {for: 'f-' + f[0], text: f[1]}),
        el('input', {id: 'f-' + f[0], name: f[0], type: f[2], value: value, placeholder: f[0] === 'payload' ? 'customer.id=42' : null})));
    });
    var form = el('form', {id: 'search-form', role: 'search', 'aria-label': 'Search tasks'}, fields,
      el('button', {type: 'submit', text: 'Search'}));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var params = {};
      FILTER_FIELDS.forEach(function (name) {
        var input = $('f-' + name);
        if (input && input.value) {
          params[name] = input.type === 'datetime-local' ? new Date(input.value).toISOString() : input.value.trim();
        }
      });
      location.hash = '#/tasks' + query(params);
    });
    var search = card('Search tasks', 'search');
    search.appendChild(form);
    view.appendChild(search);

    var bulk = card('Act on every matching task', 'bulk');
    var action = el('select', {id: 'bulk-action'},
      el('option', {value: 'retry', text: 'Retry (failed and dead)'}),
      el('option', {value: 'cancel', text: 'Cancel (scheduled and queued)'}),
      el('option', {value: 'delete', text: 'Delete (finished)'}));
    action.addEventListener('change', function () { $('bulk-run').disabled = true; coalesce('count', countMatching); });
    bulk.appendChild(el('div', {class: 'inline'},
      el('div', {}, el('label', {for: 'bulk-action', text: 'Action'}), action),
      el('button', {type: 'button', id: 'bulk-dry-run', class: 'secondary', text: 'Count matching (dry run)', onclick: function () { coalesce('count', countMatching); }}),
      el('button', {type: 'button', id: 'bulk-run', disabled: true, text: 'Run on all matching', onclick: runBulk})));
    bulk.appendChild(el('p', {}, el('span', {text: 'Matching now: '}), el('strong', {id: 'bulk-matching', 'aria-live': 'polite', text: '–'})));
    bulk.appendChild(el('div', {id: 'bulk-progress', role: 'status'}));
    view.appendChild(bulk);

    var results = card('Results', 'results');
    results.appendChild(el('div', {id: 'task-results'}));
    results.appendChild(el('button', {type: 'button', id: 'more', class: 'secondary', hidden: true, text: 'More', onclick: function () { moreTasks(); }}));
    view.appendChild(results);
  };

  function currentFilter() {
    var filter = {};
    FILTER_FIELDS.forEach(function (name) {
      if (state.route.params[name]) { filter[name] = name === 'owner_id' ? Number(state.route.params[name]) : state.route.params[name]; }
    });
    return filter;
  }

  var taskCursor = null;
  function searchTasks() {
    var params = Object.assign({}, currentFilter(), {limit: 50});
    return api('GET', '/api/v1/tasks' + query(params)).then(function (page) {
      if (!$('task-results')) { return; }
      taskCursor = page.next_cursor;
      clear($('task-results')).appendChild(taskTable(page.items));
      $('more').hidden = !taskCursor;
    });
  }

  function moreTasks() {
    var params = Object.assign({}, currentFilter(), {limit: 50, cursor: taskCursor});
    api('GET', '/api/v1/tasks' + query(params)).then(function (page) {
      if (!$('task-results')) { return; }
      taskCursor = page.next_cursor;
      var body = $('task-results').querySelector('tbody');
      taskTable(page.items).querySelectorAll('tbody tr').forEach(function (row) { body.appendChild(row); });
      $('more').hidden = !taskCursor;
    }).catch(showError);
  }

  function taskTable(items) {
    return table('', [
      {label: 'Task', render: function (t) { return el('a', {href: '#/task/' + t.id, text: '#' + t.id}); }},
      {label: 'Type', key: 'type'},
      {label: 'Queue', key: 'queue'},
      {label: 'Status', render: function (t) { return badge(t.status); }},
      {label: 'Attempts', num: true, render: function (t) { return t.attempts + '/' + t.max_attempts; }},
      {label: 'Last error', err: true, key: 'last_error'},
      {label: 'Created', render: function (t) { return when(t.created_at); }}
    ], items, 'No task matches.');
  }

  function countMatching() {
    var action = $('bulk-action');
    if (!action) { return; }  // a throttled count that fires after the page has left the tasks view
    return api('POST', '/api/v1/tasks/bulk/dry-run', {action: action.value, filter: currentFilter()}).then(function (reply) {
      var node = $('bulk-matching');
      if (!node) { return; }
      node.textContent = String(reply.matching);
      var run = $('bulk-run');
      if (!run) { return; }
      run.disabled = reply.matching === 0 || (state.bulk && state.bulk.status === 'running');
      run.textContent = reply.action.charAt(0).toUpperCase() + reply.action.slice(1) + ' all ' + reply.matching + ' matching';
    });
  }

  function runBulk() {
    var action = $('bulk-action').value;
    $('bulk-run').disabled = true;
    api('POST', '/api/v1/tasks/bulk', {action: action, filter: currentFilter()}).then(function (job) {
      job = latest(job);
      job.view = 'tasks';
      job.seenAt = Date.now();
      state.bulk = job;
      drawBulk();
      followBulk(job.id);
    }).catch(showError);
  }

  /**
   * Progress comes by push; while the socket is down, or when no push came for 3 s (a publish can
   * be missed), it is read instead, every second.
   */
  function followBulk(id) {
    var timer = setInterval(function () {
      if (!state.bulk || state.bulk.id !== id || state.bulk.status !== 'running') { clearInterval(timer); return; }
      if (!state.live || Date.now() - (state.bulk.seenAt || 0) > 3000) {
        api('GET', '/api/v1/tasks/bulk/' + id).then(bulkChanged).catch(showError);
      }
    }, 1000);
  }

  /** The newest state known of each bulk action: a push may arrive before the answer that started it. */
  var bulkSeen = {};
  function newer(a, b) {
    return (a.status !== 'running' && b.status === 'running') || a.done > b.done;
  }
  function latest(job) {
    var seen = bulkSeen[job.id];
    return seen && newer(seen, job) ? Object.assign({}, seen) : job;
  }

  function bulkChanged(job) {
    if (!job) { return; }
    job.seenAt = Date.now();
    if (!bulkSeen[job.id] || !newer(bulkSeen[job.id], job)) { bulkSeen[job.id] = job; }
    if (state.bulk && state.bulk.id === job.id) {
      if (newer(state.bulk, job)) { return; }
      job.view = state.bulk.view;
      state.bulk = job;
      drawBulk();
    }
    var view = state.route && state.route.view;
    if (view === 'tasks') {
      throttle('count', 300, countMatching);
      throttle('search', 1000, searchTasks);
    } else if (view === 'dead') {
      throttle('view', 1000, refresh);
    }
  }

  /** The progress of the bulk action this page started, in the view it was started from. */
  function drawBulk() {
    var box = $('bulk-progress') || $('dead-bulk');
    if (!box || !state.bulk || state.bulk.view !== state.route.view) { return; }
    var job = state.bulk;
    clear(box).appendChild(el('div', {},
      el('p', {}, el('strong', {text: job.action + ' #' + job.id + ': '}), badge(job.status), ' ',
        job.done + ' of ' + job.matching + ' done' + (job.error ? ' (' + job.error + ')' : '')),
      progressBar(job.done, job.matching, 'bulk ' + job.action + ' progress')));
  }

  REFRESH.tasks = [searchTasks, countMatching];

  // ---- admin: one task ----

  VIEWS.task = function (view) {
    var box = card('Task #' + state.route.id, 'task');
    box.appendChild(el('div', {id: 'task-detail'}));
    view.appendChild(box);
  };

  REFRESH.task = [function () {
    return api('GET', '/api/v1/tasks/' + encodeURIComponent(state.route.id) + '/attempts').then(function (reply) {
      var t = reply.task;
      var detail = clear($('task-detail'));
      var actions = el('div', {class: 'inline'});
      if (t.status === 'failed' || t.status === 'dead') {
        actions.appendChild(el('button', {type: 'button', text: 'Retry', onclick: function () {
          api('POST', '/api/v1/tasks/' + t.id + '/retry').then(function () { coalesce('view', refresh); }).catch(showError);
        }}));
      }
      if (t.status === 'queued' || t.status === 'scheduled') {
        actions.appendChild(el('button', {type: 'button', class: 'danger', text: 'Cancel', onclick: function () {
          api('POST', '/api/v1/tasks/' + t.id + '/cancel').then(function () { coalesce('view', refresh); }).catch(showError);
        }}));
      }
      detail.appendChild(el('p', {}, badge(t.status), ' ', t.type + ' in queue ' + t.queue + ', priority ' + t.priority +
        ', attempt ' + t.attempts + ' of ' + t.max_attempts + ', owner ' + t.owner_id));
      if (t.progress) { detail.appendChild(el('p', {}, 'Progress: ', progressOf(t))); }
      detail.appendChild(actions);
      detail.appendChild(el('h3', {text: 'Payload'}));
      detail.appendChild(el('pre', {text: JSON.stringify(t.payload, null, 2)}));
      if (t.result !== null && t.result !== undefined) {
        detail.appendChild(el('h3', {text: 'Result'}));
        detail.appendChild(el('pre', {text: JSON.stringify(t.result, null, 2)}));
      }
      detail.appendChild(el('h3', {text: 'Attempts'}));
      detail.appendChild(table('', [
        {label: '#', num: true, key: 'attempt'},
        {label: 'Outcome', render: function (a) { return badge(a.outcome); }},
        {label: 'Started', render: function (a) { return when(a.started_at); }},
        {label: 'Took', num: true, render: function (a) { return duration(a.duration_ms); }},
        {label: 'Node', key: 'node'},
        {label: 'Error', err: true, key: 'error'}
      ], reply.attempts, 'Not run yet.'));
      detail.appendChild(el('h3', {text: 'Timeline'}));
      var list = el('ol', {class: 'timeline'});
      reply.timeline.forEach(function (step) {
        list.appendChild(el('li', {}, el('time', {datetime: step.at, text: when(step.at)}), ' ', badge(step.state),
          step.note ? ' ' + step.note : ''));
      });
      detail.appendChild(list);
    });
  }];

  // ---- admin: dead letters grouped by fingerprint ----

  VIEWS.dead = function (view) {
    var box = card('Dead tasks by error', 'dead');
    box.appendChild(el('div', {id: 'dead-bulk', role: 'status'}));
    box.appendChild(el('div', {id: 'dead-groups'}));
    view.appendChild(box);
  };

  REFRESH.dead = [function () {
    return api('GET', '/api/v1/tasks/dead-groups').then(function (reply) {
      clear($('dead-groups')).appendChild(table('', [
        {label: 'Tasks', num: true, key: 'count'},
        {label: 'Type', key: 'type'},
        {label: 'Error', err: true, render: function (g) { return el('span', {title: g.sample_error, text: g.pattern}); }},
        {label: 'Last', render: function (g) { return when(g.last_at); }},
        {label: '', render: function (g) {
          return el('div', {class: 'inline'},
            el('a', {href: '#/tasks' + query({status: 'dead', fingerprint: g.fingerprint}), text: 'Show'}),
            el('button', {type: 'button', class: 'secondary', text: 'Retry this group', 'aria-label': 'Retry the ' + g.count + ' tasks of this group',
              onclick: function () { retryGroup(g); }}));
        }}
      ], reply.items, 'No dead tasks.'));
      drawBulk();
    });
  }];

  function retryGroup(group) {
    var filter = {status: 'dead', fingerprint: group.fingerprint};
    api('POST', '/api/v1/tasks/bulk/dry-run', {action: 'retry', filter: filter}).then(function (count) {
      if (count.matching === 0 || !window.confirm('Retry ' + count.matching + ' dead ' + group.type + ' task(s)?')) { return null; }
      return api('POST', '/api/v1/tasks/bulk', {action: 'retry', filter: filter}).then(function (job) {
        job = latest(job);
        job.view = 'dead';
        job.seenAt = Date.now();
        state.bulk = job;
        drawBulk();
        followBulk(job.id);
      });
    }).catch(showError);
  }

  // ---- admin: schedules ----

  VIEWS.schedules = function (view) {
    var box = card('Schedules', 'schedules');
    box.appendChild(el('div', {id: 'schedules-list'}));
    view.appendChild(box);
  };

  REFRESH.schedules = [function () {
    return api('GET', '/api/v1/schedules?limit=200').then(function (page) {
      clear($('schedules-list')).appendChild(table('', [
        {label: 'Name', key: 'name'},
        {label: 'Cron', render: function (s) { return s.cron + ' (' + s.timezone + ')'; }},
        {label: 'Task', render: function (s) { return s.task.type; }},
        {label: 'Next fires', render: function (s) {
          return s.enabled ? (s.next_fire_times || []).map(when).join(', ') : el('span', {class: 'muted', text: 'paused'});
        }},
        {label: 'Last outcome', render: function (s) {
          return s.last_task ? el('span', {}, el('a', {href: '#/task/' + s.last_task.id, text: '#' + s.last_task.id}), ' ', badge(s.last_task.status)) : '';
        }},
        {label: '', render: function (s) {
          return el('div', {class: 'inline'},
            el('button', {type: 'button', class: 'secondary', text: 'Run now', 'aria-label': 'Run ' + s.name + ' now', onclick: function () {
              api('POST', '/api/v1/schedules/' + s.id + '/run').then(function () { coalesce('view', refresh); }).catch(showError);
            }}),
            el('button', {type: 'button', class: 'secondary', text: s.enabled ? 'Pause' : 'Resume', 'aria-label': (s.enabled ? 'Pause ' : 'Resume ') + s.name,
              onclick: function () {
                api('PATCH', '/api/v1/schedules/' + s.id, {enabled: !s.enabled}).then(function () { coalesce('view', refresh); }).catch(showError);
              }}));
        }}
      ], page.items, 'No schedules.'));
    });
  }];

  // ---- admin: nodes ----

  VIEWS.nodes = function (view) {
    var box = card('Nodes', 'nodes');
    box.appendChild(el('div', {id: 'nodes-list'}));
    view.appendChild(box);
  };

  REFRESH.nodes = [function () {
    return api('GET', '/api/v1/nodes').then(function (reply) {
      clear($('nodes-list')).appendChild(table('', [
        {label: 'Node', render: function (n) { return n.name + (n.this_node ? ' (answering)' : ''); }},
        {label: 'Roles', render: function (n) { return (n.roles || []).join(', '); }},
        {label: 'Up for', num: true, render: function (n) { return duration(n.uptime_ms); }},
        {label: 'Heartbeat', num: true, render: function (n) { return duration(n.heartbeat_age_ms) + ' ago'; }},
        {label: 'Running tasks', num: true, render: function (n) { return n.running_tasks === null ? '?' : n.running_tasks; }}
      ], reply.items, 'No node has reported.'));
    });
  }];

  // ---- start ----

  $('login-form').addEventListener('submit', function (event) {
    event.preventDefault();
    $('login-error').textContent = '';
    login($('login-username').value, $('login-password').value).catch(function (error) {
      $('login-error').textContent = error.status === 401 ? 'Wrong username or password.' : error.message;
    });
  });
  $('logout').addEventListener('click', function () { logout(''); });
  window.addEventListener('hashchange', render);

  if (state.token) {
    start().catch(function () { logout(''); });
  } else {
    logout('');
  }
})();
