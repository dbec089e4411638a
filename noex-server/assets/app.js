// The noex web dashboard: one WebSocket to the gateway that served this page, the
// protocol's requests and pushes, and plain DOM. No framework, no build step.
'use strict';

(function () {
  // Everything kept is bounded: a client that stays open for days holds the same.
  const SNAPSHOT_EVERY_MS = 1000;
  const TREE_EVERY_MS = 3000;
  const STATS_EVERY_MS = 2000;
  const HISTORY = 60; // snapshots of msg/s and queue per process: the sparklines
  const MAX_EVENTS = 500; // event log rows
  const MAX_ROWS = 500; // process table rows drawn (the filter finds the rest)
  const MAX_TREE_CHILDREN = 200; // children drawn under one supervisor
  const MAX_HISTORY_PIDS = 2000; // processes with a sparkline (an app may have millions)
  const MAX_BUCKET_ROWS = 100; // records drawn in the bucket view
  const MAX_TEXT = 64 * 1024; // query results and state text drawn
  const REQUEST_TIMEOUT_MS = 15000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- connection

  const conn = {
    socket: null,
    nextId: 1,
    pending: new Map(), // id -> {resolve, reject, timer}
    attempt: 0,
    ready: false, // welcomed (and logged in, when the server asks)
    requiresAuth: false,
    retryTimer: null,
  };

  function wsUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return scheme + '//' + location.host + '/';
  }

  function setConn(state, text) {
    const el = $('conn-status');
    el.dataset.state = state;
    el.textContent = text;
    document.body.dataset.conn = state;
  }

  function connect() {
    clearTimeout(conn.retryTimer);
    setConn('connecting', conn.attempt ? 'reconnecting…' : 'connecting…');
    let socket;
    try {
      socket = new WebSocket(wsUrl());
    } catch (error) {
      scheduleReconnect(String(error));
      return;
    }
    conn.socket = socket;
    socket.onmessage = (message) => onMessage(socket, message);
    socket.onclose = (event) => {
      if (conn.socket !== socket) return;
      conn.socket = null;
      conn.ready = false;
      failPending('disconnected');
      scheduleReconnect(event.reason || 'connection closed (' + event.code + ')');
    };
    socket.onerror = () => {
      // onclose follows and says what to do.
    };
  }

  function scheduleReconnect(why) {
    const delay = BACKOFF_MS[Math.min(conn.attempt, BACKOFF_MS.length - 1)];
    conn.attempt += 1;
    let left = Math.ceil(delay / 1000);
    const tell = () => setConn('disconnected', 'disconnected — retrying in ' + left + ' s (' + why + ')');
    tell();
    const tick = setInterval(() => {
      left -= 1;
      if (left > 0) tell();
    }, 1000);
    conn.retryTimer = setTimeout(() => {
      clearInterval(tick);
      connect();
    }, delay);
  }

  function failPending(why) {
    for (const [, waiter] of conn.pending) {
      clearTimeout(waiter.timer);
      waiter.reject({ code: 'DISCONNECTED', message: why });
    }
    conn.pending.clear();
  }

  /** Sends a request; resolves with its result's data, rejects with {code, message}. */
  function request(type, fields) {
    return new Promise((resolve, reject) => {
      const socket = conn.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        reject({ code: 'DISCONNECTED', message: 'not connected' });
        return;
      }
      const id = conn.nextId++;
      const timer = setTimeout(() => {
        conn.pending.delete(id);
        reject({ code: 'TIMEOUT', message: type + ' got no answer' });
      }, REQUEST_TIMEOUT_MS);
      conn.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify(Object.assign({ id, type }, fields || {})));
    });
  }

  function onMessage(socket, message) {
    let msg;
    try {
      msg = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    switch (msg.type) {
      case 'welcome':
        onWelcome(msg);
        break;
      case 'ping':
        socket.send(JSON.stringify({ type: 'pong', timestamp: msg.timestamp }));
        break;
      case 'result':
      case 'error': {
        const waiter = conn.pending.get(msg.id);
        if (!waiter) return;
        conn.pending.delete(msg.id);
        clearTimeout(waiter.timer);
        if (msg.type === 'result') waiter.resolve(msg.data);
        else waiter.reject({ code: msg.code, message: msg.message, details: msg.details });
        break;
      }
      case 'push':
        onPush(msg);
        break;
      case 'system':
        if (msg.event === 'shutdown') setConn('disconnected', 'the server is shutting down');
        break;
      default:
        break;
    }
  }

  function onWelcome(msg) {
    early = [];
    conn.requiresAuth = !!msg.requiresAuth;
    if (!conn.requiresAuth) {
      onReady();
      return;
    }
    const token = sessionStorage.getItem('noex-token');
    if (token) {
      login(token);
    } else {
      showLogin('');
    }
  }

  function showLogin(error) {
    setConn('auth', 'connected — log in');
    $('login').hidden = false;
    $('main').classList.add('locked');
    const el = $('login-error');
    el.hidden = !error;
    el.textContent = error;
    $('token').focus();
  }

  function login(token) {
    request('auth.login', { token }).then(
      () => {
        sessionStorage.setItem('noex-token', token);
        $('login').hidden = true;
        $('main').classList.remove('locked');
        onReady();
      },
      (error) => {
        sessionStorage.removeItem('noex-token');
        showLogin(error.code + ': ' + error.message);
      },
    );
  }

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value;
    $('token').value = '';
    if (token) login(token);
  });

  function onReady() {
    conn.ready = true;
    conn.attempt = 0;
    setConn('connected', 'connected');
    subscribeEvents();
    refreshSnapshot();
    refreshTree();
    refreshStats();
    if (query.name) subscribeQuery();
  }

  // Pushes for a subscription whose reply has not come yet (a server may send the
  // first ones before it): kept, a bounded number, until the reply names them.
  const MAX_EARLY_PUSHES = 1000;
  let early = [];
  let subscribing = 0; // subscribe requests waiting for their reply

  /** A subscribe request: pushes that come before its reply are kept for it. */
  function subscribe(type, fields) {
    subscribing += 1;
    const done = () => {
      subscribing -= 1;
    };
    return request(type, fields).then(
      (data) => {
        done();
        return data;
      },
      (error) => {
        done();
        throw error;
      },
    );
  }

  function onPush(msg) {
    if (msg.channel === 'event' && msg.subscriptionId === events.subscriptionId) {
      const data = msg.data || {};
      if (data.topic === 'lifecycle' && data.event) onLifecycle(data.event);
    } else if (msg.channel === 'subscription' && msg.subscriptionId === query.subscriptionId) {
      showQueryResult(msg.data, 'push');
    } else if (subscribing > 0 && early.length < MAX_EARLY_PUSHES) {
      early.push(msg);
    }
  }

  // Once a subscription's id is known: what came for it before, in order.
  function replayEarly(id) {
    const mine = early.filter((msg) => msg.subscriptionId === id);
    early = early.filter((msg) => msg.subscriptionId !== id);
    for (const msg of mine) onPush(msg);
    // Nothing else is waiting for an id: the rest were for subscriptions gone.
    if (subscribing === 0) early = [];
  }

  // Failures of the periodic requests: shown once in the status line, not thrown.
  function softFail(error) {
    if (error && error.code === 'UNAUTHORIZED' && conn.requiresAuth) {
      sessionStorage.removeItem('noex-token');
      showLogin(error.message);
    }
  }

  // ------------------------------------------------------------------ formatting

  function pidText(pid) {
    return pid === null || pid === undefined ? '—' : '<0.' + pid + '>';
  }

  function labelOf(info) {
    return info.name || info.child_id || pidText(info.pid);
  }

  function duration(ms) {
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (d) return d + 'd ' + h + 'h ' + m + 'm';
    if (h) return h + 'h ' + m + 'm ' + sec + 's';
    if (m) return m + 'm ' + sec + 's';
    return sec + 's';
  }

  function bytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return (i ? v.toFixed(1) : String(v)) + ' ' + units[i];
  }

  function plural(n, word, words) {
    return n + ' ' + (n === 1 ? word : words || word + 's');
  }

  function count(n) {
    return Number(n).toLocaleString('en-US');
  }

  function rateText(r) {
    if (r === null || r === undefined) return '—';
    return r >= 100 ? Math.round(r).toString() : r.toFixed(1);
  }

  function clockTime(ms) {
    const d = new Date(ms);
    const pad = (n, w) => String(n).padStart(w || 2, '0');
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
  }

  function clip(text) {
    return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) + '\n… (clipped)' : text;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const key of Object.keys(attrs)) {
        const value = attrs[key];
        if (value === undefined || value === null || value === false) continue;
        if (key === 'text') node.textContent = value;
        else if (key === 'class') node.className = value;
        else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'role' || key === 'title') node.setAttribute(key, value);
        else node[key] = value;
      }
    }
    for (const child of children || []) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // ------------------------------------------------------------------- snapshot

  // The latest snapshot's processes, by pid, with the figures derived from the last two.
  let processes = new Map(); // pid -> row
  const history = new Map(); // pid -> {rate: [], queue: []}, only for live pids
  let lastSnapshot = null;
  let snapshotInFlight = false;

  function refreshSnapshot() {
    if (!conn.ready || snapshotInFlight) return;
    snapshotInFlight = true;
    request('observer.snapshot').then(
      (snapshot) => {
        snapshotInFlight = false;
        onSnapshot(snapshot);
      },
      (error) => {
        snapshotInFlight = false;
        softFail(error);
      },
    );
  }

  function onSnapshot(snap) {
    const prev = lastSnapshot;
    const prevByPid = new Map();
    if (prev) {
      for (const s of prev.servers || []) prevByPid.set(s.pid, s);
    }
    const seconds = prev ? (snap.taken_at_ms - prev.taken_at_ms) / 1000 : 0;
    const next = new Map();
    for (const s of snap.servers || []) {
      const before = prevByPid.get(s.pid);
      let rate = null;
      let busy = null;
      if (before && seconds > 0) {
        rate = Math.max(0, (s.messages - before.messages) / seconds);
        busy = Math.min(100, Math.max(0, ((s.busy_ns - before.busy_ns) / 1e9 / seconds) * 100));
      }
      next.set(s.pid, {
        pid: s.pid,
        name: labelOf(s),
        registered: s.name || null,
        kind: s.type_name,
        isSupervisor: false,
        status: s.status,
        messages: s.messages,
        rate,
        queue: s.queue_len,
        restarts: s.restarts,
        busy,
        system: !!s.system,
        info: s,
      });
    }
    for (const s of snap.supervisors || []) {
      next.set(s.pid, {
        pid: s.pid,
        name: labelOf(s),
        registered: s.name || null,
        kind: 'sup ' + s.strategy,
        isSupervisor: true,
        status: s.status,
        messages: null,
        rate: null,
        queue: null,
        restarts: s.restarts,
        busy: null,
        system: !!s.system,
        info: s,
      });
    }
    // History only for live processes: a restarted worker's old pid drops its line.
    for (const pid of history.keys()) {
      if (!next.has(pid)) history.delete(pid);
    }
    for (const row of next.values()) {
      if (row.isSupervisor) continue;
      let h = history.get(row.pid);
      if (!h) {
        if (history.size >= MAX_HISTORY_PIDS) continue;
        h = { rate: [], queue: [] };
        history.set(row.pid, h);
      }
      if (row.rate !== null) h.rate.push(row.rate);
      h.queue.push(row.queue);
      if (h.rate.length > HISTORY) h.rate.shift();
      if (h.queue.length > HISTORY) h.queue.shift();
    }
    processes = next;
    // Keep only what the rates need: the servers' counters, not the whole snapshot twice.
    lastSnapshot = { taken_at_ms: snap.taken_at_ms, servers: snap.servers };

    $('app-name').textContent = snap.app;
    $('app-pid').textContent = String(snap.os_pid);
    $('app-uptime').textContent = duration(snap.uptime_ms);
    $('app-processes').textContent = count(snap.process_count);
    $('app-messages').textContent = count(snap.total_messages);
    $('app-memory').textContent = bytes(snap.memory_rss_bytes);
    document.title = snap.app + ' — noex';

    renderTable();
    renderDetails();
  }

  // ---------------------------------------------------------------------- table

  const sort = { key: 'pid', descending: false };
  // What the sparklines draw: messages per second, or the mailbox's length.
  let sparkQueue = false;
  $('spark-mode').addEventListener('click', () => {
    sparkQueue = !sparkQueue;
    $('spark-mode').textContent = sparkQueue ? 'trend: queue' : 'trend: msg/s';
    renderTable();
  });

  function compare(a, b) {
    const x = a[sort.key];
    const y = b[sort.key];
    let order;
    if (x === null || x === undefined) order = y === null || y === undefined ? 0 : 1;
    else if (y === null || y === undefined) order = -1;
    else if (typeof x === 'number' && typeof y === 'number') order = x - y;
    else order = String(x).localeCompare(String(y), 'en', { numeric: true });
    // Ties in pid order, whichever way the column sorts.
    if (order === 0) return a.pid - b.pid;
    // Missing figures stay at the bottom whichever way the column sorts.
    if (x === null || x === undefined || y === null || y === undefined) return order;
    return sort.descending ? -order : order;
  }

  function matchesFilter(row, words) {
    if (!words.length) return true;
    const hay = (row.name + ' ' + pidText(row.pid) + ' ' + row.kind + ' ' + row.status + ' ' + (row.registered || '')).toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function sparkline(values) {
    const width = 64;
    const height = 18;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('class', 'spark');
    svg.setAttribute('aria-hidden', 'true');
    if (values.length < 2) return svg;
    const max = Math.max(1, ...values);
    const step = width / (HISTORY - 1);
    const offset = (HISTORY - values.length) * step;
    const points = values
      .map((v, i) => (offset + i * step).toFixed(1) + ',' + (height - 1 - (v / max) * (height - 2)).toFixed(1))
      .join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points);
    svg.append(line);
    return svg;
  }

  function renderTable() {
    const words = $('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
    const showSystem = $('show-system').checked;
    const rows = [];
    for (const row of processes.values()) {
      if (row.system && !showSystem) continue;
      if (matchesFilter(row, words)) rows.push(row);
    }
    rows.sort(compare);
    const body = $('process-rows');
    const fragment = document.createDocumentFragment();
    for (const row of rows.slice(0, MAX_ROWS)) {
      const h = history.get(row.pid);
      const tr = el(
        'tr',
        {
          'data-testid': 'process-row',
          'data-name': row.name,
          'data-pid': String(row.pid),
          'data-status': row.status,
          class: (row.pid === selected.pid ? 'selected ' : '') + (row.info.last_error ? 'has-error ' : '') + 'status-' + row.status,
        },
        [
          el('td', { class: 'pid', text: pidText(row.pid) }),
          el('td', { class: 'name', text: row.name, title: row.info.last_error ? 'last error: ' + row.info.last_error : null }),
          el('td', { class: 'kind', text: row.kind, title: row.kind }),
          el('td', { class: 'status', text: row.status }),
          el('td', { class: 'num', text: row.messages === null ? '' : count(row.messages) }),
          el('td', { class: 'num', text: row.isSupervisor ? '' : rateText(row.rate) }),
          el('td', { class: 'num' + (row.queue > 100 ? ' hot' : ''), text: row.queue === null ? '' : count(row.queue) }),
          el('td', { class: 'num' + (row.restarts > 0 ? ' warn' : ''), text: String(row.restarts) }),
          el('td', { class: 'num', text: row.busy === null ? '' : row.busy.toFixed(0) + '%' }),
          el('td', { class: 'sparkcell' }, [h ? sparkline(sparkQueue ? h.queue : h.rate) : null]),
        ],
      );
      tr.addEventListener('click', () => select(row.pid, row.name));
      fragment.append(tr);
    }
    body.replaceChildren(fragment);
    $('process-shown').textContent =
      rows.length > MAX_ROWS ? 'showing ' + MAX_ROWS + ' of ' + rows.length + ' (filter to narrow)' : rows.length + ' shown';
    for (const th of document.querySelectorAll('#processes th[data-sort]')) {
      const active = th.dataset.sort === sort.key;
      th.setAttribute('aria-sort', active ? (sort.descending ? 'descending' : 'ascending') : 'none');
    }
  }

  for (const th of document.querySelectorAll('#processes th[data-sort]')) {
    th.addEventListener('click', () => {
      const key = th.dataset.sort;
      if (sort.key === key) sort.descending = !sort.descending;
      else {
        sort.key = key;
        // Figures read best busiest first; names and pids in order.
        sort.descending = ['messages', 'rate', 'queue', 'restarts', 'busy'].includes(key);
      }
      renderTable();
    });
  }
  $('filter').addEventListener('input', renderTable);
  // `/` finds, as in a pager; Escape clears the filter.
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement;
    if (event.key === '/' && !typing) {
      event.preventDefault();
      $('filter').focus();
    } else if (event.key === 'Escape' && event.target === $('filter')) {
      $('filter').value = '';
      renderTable();
    }
  });
  $('show-system').addEventListener('change', () => {
    renderTable();
    renderTree();
  });

  // ----------------------------------------------------------------------- tree

  let tree = null;
  let treeInFlight = false;
  const collapsed = new Set(); // supervisors' labels, so a restart keeps the choice

  function refreshTree() {
    if (!conn.ready || treeInFlight) return;
    treeInFlight = true;
    request('observer.tree').then(
      (data) => {
        treeInFlight = false;
        tree = data;
        renderTree();
      },
      (error) => {
        treeInFlight = false;
        softFail(error);
      },
    );
  }

  let treeSoon = null;
  // Lifecycle events change the tree: ask again shortly, once for a burst.
  function refreshTreeSoon() {
    if (treeSoon) return;
    treeSoon = setTimeout(() => {
      treeSoon = null;
      refreshTree();
    }, 300);
  }

  function nodeKey(node) {
    if (node.type === 'supervisor' || node.type === 'worker') return labelOf(node.info);
    return node.child_id || '?';
  }

  function treeNode(node, depth) {
    const showSystem = $('show-system').checked;
    if ((node.type === 'supervisor' || node.type === 'worker') && node.info.system && !showSystem) return null;
    const item = el('div', { class: 'node', role: 'treeitem' });
    const line = el('div', { class: 'line', 'data-testid': 'tree-node' });
    line.style.paddingLeft = depth * 14 + 'px';
    item.append(line);
    if (node.type === 'supervisor') {
      const info = node.info;
      const key = nodeKey(node);
      const isCollapsed = collapsed.has(key);
      item.setAttribute('aria-expanded', String(!isCollapsed));
      line.dataset.kind = 'supervisor';
      line.dataset.name = labelOf(info);
      line.dataset.pid = String(info.pid);
      const toggle = el('button', { class: 'toggle', type: 'button', text: isCollapsed ? '▸' : '▾', title: isCollapsed ? 'expand' : 'collapse' });
      toggle.addEventListener('click', (event) => {
        event.stopPropagation();
        if (collapsed.has(key)) collapsed.delete(key);
        else collapsed.add(key);
        renderTree();
      });
      line.append(
        toggle,
        el('span', { class: 'label sup', text: labelOf(info) }),
        el('span', { class: 'meta', text: pidText(info.pid) + ' ' + info.strategy + (info.child_restarts ? ' · ' + plural(info.child_restarts, 'restart') : '') }),
      );
      line.addEventListener('click', () => select(info.pid, labelOf(info)));
      if (info.pid === selected.pid) line.classList.add('selected');
      if (!isCollapsed) {
        const group = el('div', { role: 'group' });
        const children = node.children || [];
        for (const child of children.slice(0, MAX_TREE_CHILDREN)) {
          const childItem = treeNode(child, depth + 1);
          if (childItem) group.append(childItem);
        }
        if (children.length > MAX_TREE_CHILDREN) {
          const more = el('div', { class: 'line muted', text: '… ' + (children.length - MAX_TREE_CHILDREN) + ' more (see the table)' });
          more.style.paddingLeft = (depth + 1) * 14 + 'px';
          group.append(more);
        }
        item.append(group);
      } else {
        line.append(el('span', { class: 'meta', text: '(' + plural((node.children || []).length, 'child', 'children') + ')' }));
      }
    } else if (node.type === 'worker') {
      const info = node.info;
      line.dataset.kind = 'worker';
      line.dataset.name = labelOf(info);
      line.dataset.pid = String(info.pid);
      line.append(
        el('span', { class: 'toggle-space' }),
        el('span', { class: 'label status-' + info.status, text: labelOf(info) }),
        el('span', { class: 'meta', text: pidText(info.pid) + (info.restarts ? ' · ' + plural(info.restarts, 'restart') : '') }),
      );
      line.addEventListener('click', () => select(info.pid, labelOf(info)));
      if (info.pid === selected.pid) line.classList.add('selected');
    } else if (node.type === 'stopped') {
      line.dataset.kind = 'stopped';
      line.dataset.name = node.child_id;
      line.append(el('span', { class: 'toggle-space' }), el('span', { class: 'label stopped', text: node.child_id }), el('span', { class: 'meta', text: 'not running (' + node.restart + ')' }));
    } else {
      line.append(el('span', { class: 'muted', text: '(unknown node)' }));
    }
    return item;
  }

  function renderTree() {
    const root = $('tree');
    if (!tree) return;
    const fragment = document.createDocumentFragment();
    for (const node of tree.roots || []) {
      const item = treeNode(node, 0);
      if (item) fragment.append(item);
    }
    root.replaceChildren(fragment);
  }

  function allSupervisorKeys(nodes, into) {
    for (const node of nodes || []) {
      if (node.type === 'supervisor') {
        into.push(nodeKey(node));
        allSupervisorKeys(node.children, into);
      }
    }
    return into;
  }

  $('tree-collapse-all').addEventListener('click', () => {
    if (!tree) return;
    for (const key of allSupervisorKeys(tree.roots, [])) collapsed.add(key);
    renderTree();
  });
  $('tree-expand-all').addEventListener('click', () => {
    collapsed.clear();
    renderTree();
  });

  // -------------------------------------------------------------------- details

  // The selected process: its pid, and its label so that a restarted process (a new
  // pid under the same name) stays selected.
  const selected = { pid: null, label: null, stateFor: null };

  function select(pid, label) {
    selected.pid = pid;
    selected.label = label;
    hideOutcome();
    renderTable();
    renderTree();
    renderDetails();
    loadState();
  }

  function hideOutcome() {
    $('action-outcome').hidden = true;
  }

  function currentRow() {
    if (selected.pid === null) return null;
    let row = processes.get(selected.pid);
    if (!row && selected.label) {
      for (const candidate of processes.values()) {
        if (candidate.name === selected.label) {
          row = candidate;
          break;
        }
      }
      if (row) {
        selected.pid = row.pid;
        loadState();
      }
    }
    return row || null;
  }

  function field(name, value) {
    return [el('dt', { text: name }), el('dd', { 'data-field': name, text: value })];
  }

  function renderDetails() {
    const row = currentRow();
    $('details-empty').hidden = !!row;
    $('details-body').hidden = !row;
    if (!row) {
      if (selected.pid !== null) {
        $('details-empty').hidden = false;
        $('details-empty').textContent = selected.label + ' is not running now.';
      }
      return;
    }
    const info = row.info;
    $('details-title').textContent = row.name;
    $('details-body').dataset.pid = String(row.pid);
    $('details-body').dataset.name = row.name;
    const parent = info.parent !== null && info.parent !== undefined ? processes.get(info.parent) : null;
    const parts = [
      field('pid', pidText(info.pid)),
      field('name', info.name || '—'),
      field('child id', info.child_id || '—'),
      field('supervisor', info.parent === null || info.parent === undefined ? '—' : (parent ? parent.name + ' ' : '') + pidText(info.parent)),
      field('status', info.status),
      field('started', new Date(info.started_at_ms).toLocaleString()),
      field('restarts', String(info.restarts || 0)),
    ];
    if (row.isSupervisor) {
      parts.push(
        field('strategy', info.strategy),
        field('intensity', info.intensity.max_restarts + ' in ' + duration(info.intensity.within_ms)),
        field('children', String(info.children.length)),
        field('child restarts', String(info.child_restarts)),
      );
    } else {
      parts.push(
        field('type', info.type_name),
        field('messages', count(info.messages)),
        field('msg/s', rateText(row.rate)),
        field('queue', count(info.queue_len)),
        field('busy', row.busy === null ? '—' : row.busy.toFixed(1) + '%'),
        field('handler running', info.handler_running_ns ? (info.handler_running_ns / 1e6).toFixed(0) + ' ms' : 'idle'),
      );
      if (info.state) parts.push(field('doing', info.state));
    }
    parts.push(field('last error', info.last_error || '—'));
    $('details-fields').replaceChildren(...parts.flat());
  }

  function loadState() {
    const pid = selected.pid;
    if (pid === null || !conn.ready) return;
    selected.stateFor = pid;
    $('details-state').textContent = 'asking…';
    request('observer.state', { target: String(pid) }).then(
      (data) => {
        if (selected.stateFor !== pid) return;
        const text = typeof data === 'string' ? data : data && typeof data.state === 'string' ? data.state : JSON.stringify(data, null, 2);
        $('details-state').textContent = clip(text);
      },
      (error) => {
        if (selected.stateFor !== pid) return;
        $('details-state').textContent = error.code + ': ' + error.message;
      },
    );
  }

  $('state-refresh').addEventListener('click', loadState);

  // ------------------------------------------------------------ kill and restart

  // What the dialog asks to do, fixed when it opens: the process the operator saw.
  let confirming = null;

  function ask(action, force, why) {
    const row = currentRow();
    if (!row) return;
    confirming = { action, pid: row.pid, label: row.name, force: !!force };
    const verb = action === 'kill' ? 'kill' : 'restart';
    $('confirm-text').textContent = force
      ? 'Really kill ' + row.name + ' ' + pidText(row.pid) + ' for good? ' + why
      : action === 'kill'
        ? 'Really kill ' + row.name + ' ' + pidText(row.pid) + '? Its supervisor applies its restart policy.'
        : 'Really restart ' + row.name + ' ' + pidText(row.pid) + '? Its supervisor stops it and starts it again.';
    $('confirm-yes').textContent = (force ? 'kill anyway: ' : verb + ' ') + row.name;
    $('confirm-dialog').returnValue = '';
    $('confirm-dialog').showModal();
  }

  $('kill-button').addEventListener('click', () => ask('kill'));
  $('restart-button').addEventListener('click', () => ask('restart'));

  $('confirm-dialog').addEventListener('close', () => {
    const what = confirming;
    confirming = null;
    if (!what || $('confirm-dialog').returnValue !== 'confirm') return;
    act(what);
  });

  function showOutcome(state, text, extra) {
    const out = $('action-outcome');
    out.hidden = false;
    out.dataset.state = state;
    out.textContent = text;
    if (extra) out.append(' ', extra);
  }

  function act(what) {
    const type = what.action === 'kill' ? 'observer.kill' : 'observer.restart';
    const fields = { target: String(what.pid) };
    if (what.action === 'kill') fields.reason = 'killed from the web dashboard';
    if (what.force) fields.force = true;
    showOutcome('pending', what.action + ' ' + what.label + '…');
    request(type, fields).then(
      (outcome) => {
        const target = outcome && outcome.target ? (outcome.target.name || outcome.target.child_id || what.label) + ' ' + pidText(outcome.target.pid) : what.label;
        const sup = outcome && outcome.supervisor ? (outcome.supervisor.name || outcome.supervisor.child_id || '') + ' ' + pidText(outcome.supervisor.pid) : null;
        let text = (what.action === 'kill' ? 'killed ' : 'restarted ') + target;
        if (outcome && outcome.new_pid !== null && outcome.new_pid !== undefined) {
          text += '; ' + (sup ? sup.trim() : 'its supervisor') + ' started ' + pidText(outcome.new_pid);
        } else if (sup) {
          text += '; ' + sup.trim() + ' started no new one';
        }
        showOutcome('ok', text);
        refreshSnapshot();
        refreshTreeSoon();
      },
      (error) => {
        // Nothing would restart it: the server says so and lets the operator insist.
        const insist = error.details && error.details.retryWith && error.details.retryWith.force;
        let button = null;
        if (insist && what.action === 'kill') {
          button = el('button', { id: 'force-kill-button', type: 'button', class: 'danger', text: 'kill anyway…' });
          button.addEventListener('click', () => ask('kill', true, error.message));
        }
        showOutcome('error', error.code + ': ' + error.message, button);
      },
    );
  }

  // --------------------------------------------------------------------- events

  const events = { subscriptionId: null, shown: 0, lastSeq: null, lastAt: 0 };

  function subscribeEvents() {
    events.subscriptionId = null;
    subscribe('observer.subscribe', { history: 100 }).then(
      (data) => {
        events.subscriptionId = data && data.subscriptionId;
        replayEarly(events.subscriptionId);
      },
      (error) => {
        softFail(error);
        addNote('events unavailable: ' + error.code + ': ' + error.message);
      },
    );
  }

  function eventDetail(kind) {
    switch (kind.type) {
      case 'terminated':
        return kind.reason;
      case 'crashed':
        return kind.error;
      case 'restarted':
        return 'attempt ' + kind.attempt;
      case 'max_restarts_exceeded':
        return 'more than ' + kind.max_restarts + ' restarts in ' + duration(kind.within_ms);
      case 'registered':
      case 'unregistered':
        return kind.registered_name;
      default:
        return '';
    }
  }

  function addNote(text) {
    prependEvent(el('tr', { class: 'note' }, [el('td', { text: clockTime(Date.now()) }), el('td', { colSpan: 4, text })]));
  }

  function prependEvent(tr) {
    const body = $('event-rows');
    body.prepend(tr);
    while (body.childElementCount > MAX_EVENTS) body.lastElementChild.remove();
  }

  function onLifecycle(event) {
    // The history replayed after a reconnect repeats what is shown: skip it. (An
    // application started again numbers from 1, at later times: those are new.)
    if (events.lastSeq !== null && event.seq <= events.lastSeq && event.at_ms <= events.lastAt) {
      return;
    }
    if (events.lastSeq !== null && event.seq > events.lastSeq + 1) {
      addNote(plural(event.seq - events.lastSeq - 1, 'event was', 'events were') + ' missed');
    }
    events.lastSeq = event.seq;
    events.lastAt = Math.max(events.lastAt, event.at_ms);
    refreshTreeSoon();
    const kind = event.kind || { type: 'unknown' };
    const label = event.name || event.child_id || pidText(event.pid);
    const tr = el(
      'tr',
      {
        'data-testid': 'event-row',
        'data-kind': kind.type,
        'data-name': label,
        'data-pid': String(event.pid),
        class: 'ev-' + kind.type + (event.system ? ' system' : ''),
      },
      [
        el('td', { class: 'time', text: clockTime(event.at_ms) }),
        el('td', { class: 'kind', text: kind.type.replace(/_/g, ' ') }),
        el('td', { class: 'name', text: label }),
        el('td', { class: 'pid', text: pidText(event.pid) }),
        el('td', { class: 'detail', text: eventDetail(kind) }),
      ],
    );
    tr.addEventListener('click', () => select(event.pid, label));
    prependEvent(tr);
    events.shown += 1;
    $('events-count').textContent = events.shown + ' received';
  }

  $('events-show-system').addEventListener('change', () => {
    $('events').classList.toggle('show-system', $('events-show-system').checked);
  });

  // ---------------------------------------------------------------------- store

  let statsInFlight = false;
  const bucketView = { name: null, writes: null, inFlight: false };

  function refreshStats() {
    if (!conn.ready || statsInFlight) return;
    statsInFlight = true;
    request('store.stats').then(
      (stats) => {
        statsInFlight = false;
        renderStats(stats);
      },
      (error) => {
        statsInFlight = false;
        softFail(error);
        if (error.code === 'UNKNOWN_OPERATION' || error.code === 'NOT_FOUND') {
          $('store-absent').hidden = false;
          $('store-absent').textContent = 'No store: ' + error.message;
        }
      },
    );
  }

  function renderStats(stats) {
    $('store-absent').hidden = true;
    $('store-name').textContent = stats.name || '';
    const rows = (stats.buckets || []).map((b) => {
      const tr = el(
        'tr',
        { 'data-testid': 'bucket-row', 'data-bucket': b.name, class: bucketView.name === b.name ? 'selected' : '' },
        [
          el('td', { class: 'name', text: b.name, title: count(b.reads) + ' reads' }),
          el('td', { class: 'num records', text: count(b.records) }),
          el('td', { class: 'num', text: bytes(b.bytes) }),
          el('td', { class: 'num', text: count(b.writes) }),
          el('td', { class: 'num', text: count(b.subscribers) }),
        ],
      );
      tr.addEventListener('click', () => {
        bucketView.name = b.name;
        bucketView.writes = null;
        refreshStats();
      });
      if (bucketView.name === b.name && bucketView.writes !== b.writes) {
        bucketView.writes = b.writes;
        loadBucket(b.name);
      }
      return tr;
    });
    $('bucket-rows').replaceChildren(...rows);
    $('store-summary').textContent =
      (stats.queries || 0) + ' queries, ' + (stats.subscriptions || 0) + ' subscriptions, ' + (stats.live_queries || 0) + ' live' + (stats.persistent ? ', persistent' : ', in memory');
  }

  // A bucket's records, read again when its write count moves.
  function loadBucket(name) {
    if (bucketView.inFlight) return;
    bucketView.inFlight = true;
    request('store.all', { bucket: name }).then(
      (records) => {
        bucketView.inFlight = false;
        if (bucketView.name !== name) return;
        $('bucket-view').hidden = false;
        $('bucket-view-name').textContent = name;
        const list = Array.isArray(records) ? records : [];
        $('bucket-view-count').textContent = list.length > MAX_BUCKET_ROWS ? 'first ' + MAX_BUCKET_ROWS + ' of ' + list.length : list.length + ' records';
        $('bucket-records').replaceChildren(...recordTable(list.slice(0, MAX_BUCKET_ROWS)));
      },
      (error) => {
        bucketView.inFlight = false;
        $('bucket-view').hidden = false;
        $('bucket-view-count').textContent = error.code + ': ' + error.message;
      },
    );
  }

  function cellText(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  // Rows of objects as a table: a column per field, in first-seen order, the store's
  // own fields (`_version`, `_created_at`) last.
  function recordTable(list) {
    let columns = [];
    for (const record of list) {
      if (record && typeof record === 'object') {
        for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key);
      }
    }
    columns = columns.filter((c) => !c.startsWith('_')).concat(columns.filter((c) => c.startsWith('_')));
    const head = el('thead', null, [el('tr', null, columns.map((c) => el('th', { text: c })))]);
    const body = el(
      'tbody',
      null,
      list.map((record) => el('tr', null, columns.map((c) => el('td', { text: cellText(record && record[c]) })))),
    );
    return [head, body];
  }

  // ----------------------------------------------------------------- live query

  const params = new URLSearchParams(location.search);
  const query = {
    name: params.get('query') || localStorage.getItem('noex-query') || '',
    params: params.get('params') || localStorage.getItem('noex-query-params') || '',
    subscriptionId: null,
    updates: 0,
  };
  $('query-name').value = query.name;
  $('query-params').value = query.params;

  function subscribeQuery() {
    const name = query.name;
    let parsed;
    if (query.params.trim()) {
      try {
        parsed = JSON.parse(query.params);
      } catch (error) {
        $('query-status').textContent = 'params are not JSON: ' + error.message;
        return;
      }
    }
    const previous = query.subscriptionId;
    query.subscriptionId = null;
    if (previous) request('store.unsubscribe', { subscriptionId: previous }).catch(() => {});
    query.updates = 0;
    $('query-status').textContent = 'subscribing to ' + name + '…';
    const fields = { query: name };
    if (parsed !== undefined) fields.params = parsed;
    subscribe('store.subscribe', fields).then(
      (data) => {
        if (query.name !== name) return;
        query.subscriptionId = data && data.subscriptionId;
        replayEarly(query.subscriptionId);
        $('query-status').textContent = 'following ' + name;
        // Some servers send the first result with the reply, others as a push.
        if (data && data.data !== undefined) showQueryResult(data.data, 'reply');
        else if (data && data.result !== undefined) showQueryResult(data.result, 'reply');
      },
      (error) => {
        $('query-status').textContent = error.code + ': ' + error.message;
        $('query-result').replaceChildren();
      },
    );
  }

  function showQueryResult(data, how) {
    query.updates += how === 'push' ? 1 : 0;
    const box = $('query-result');
    box.dataset.updates = String(query.updates);
    $('query-status').textContent = 'following ' + query.name + ' — ' + plural(query.updates, 'update') + ', last at ' + clockTime(Date.now());
    if (Array.isArray(data) && data.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
      box.replaceChildren(el('table', { class: 'grid' }, recordTable(data.slice(0, MAX_BUCKET_ROWS))));
    } else if (data && typeof data === 'object' && !Array.isArray(data)) {
      const rows = Object.keys(data).map((key) => el('tr', null, [el('th', { text: key }), el('td', { 'data-key': key, text: cellText(data[key]) })]));
      box.replaceChildren(el('table', { class: 'grid kv' }, [el('tbody', null, rows)]));
    } else {
      box.replaceChildren(el('pre', { text: clip(JSON.stringify(data, null, 2)) }));
    }
    box.classList.remove('flash');
    // Reflow, so the flash starts again on each update.
    void box.offsetWidth;
    box.classList.add('flash');
  }

  $('query-form').addEventListener('submit', (event) => {
    event.preventDefault();
    query.name = $('query-name').value.trim();
    query.params = $('query-params').value.trim();
    localStorage.setItem('noex-query', query.name);
    localStorage.setItem('noex-query-params', query.params);
    if (query.name && conn.ready) subscribeQuery();
  });

  // ---------------------------------------------------------------------- timers

  setInterval(refreshSnapshot, SNAPSHOT_EVERY_MS);
  setInterval(refreshTree, TREE_EVERY_MS);
  setInterval(refreshStats, STATS_EVERY_MS);

  // For the browser tests and the curious: what the page holds, read-only.
  window.noexDashboard = {
    get connected() {
      return conn.ready;
    },
    get eventSubscription() {
      return events.subscriptionId;
    },
  };

  connect();
})();
