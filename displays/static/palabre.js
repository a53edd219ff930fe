/* Palabre browser client (see docs/design-contract.md).
   One WebSocket per page: the server pushes region snapshots ("view"), the page sends
   actions ("act") and waits for their "ack". Nothing typed is ever lost: drafts go to
   sessionStorage, and the morph never touches a form the user is working in. */
(() => {
  'use strict';

  const body = document.body;
  const AUDIENCE = body.dataset.audience || 'participant';
  const LIVE = body.hasAttribute('data-ws');   // home/join/error pages have no socket
  const FALLBACK = { sent: 'Envoyé', offline: 'Hors ligne…', reconnecting: 'Reconnexion…', rejected: 'Refusé' };
  const TEXT = Object.assign({}, FALLBACK, readJson(body.dataset.i18n));
  const PING_EVERY = 15000;   // contract: ping every 15 s…
  const DEAD_AFTER = 10000;   // …and give up on a socket silent for 10 s after it
  const MAX_DENSITY = 5;      // levels d1…d5 in palabre.css
  const FIELDS = window.PalabreMorph.FIELDS;
  const NOT_DRAFTED = /^(hidden|checkbox|radio|password|file|submit|button|reset|image)$/;

  const pending = new Map();   // action id -> {msg, el, disabled}; re-sent with the SAME id
  const edited = new WeakSet(); // forms (or lone fields) typed in since their last ok ack
  // The morph leaves alone what `edited` protects; new cards settling may loosen the screen.
  const morph = window.PalabreMorph.create({ isEdited: (el) => edited.has(el), onSettled: () => fitScreen() });
  const lastHtml = {};          // region -> latest server HTML, re-applied once protection ends
  let ws = null, attempt = 0, lastSeq = {};
  let retryTimer = 0, pingTimer = 0, deadTimer = 0, statusTimer = 0, toastTimer = 0;

  function readJson(text) { try { return JSON.parse(text || '{}') || {}; } catch { return {}; } }
  const t = (key) => TEXT[key] || FALLBACK[key] || key;

  // crypto.randomUUID only exists in secure contexts; a workshop LAN on plain http
  // still has getRandomValues, so build a v4 UUID from it.
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /* ---------- connection ---------- */

  function wsUrl() {
    const path = body.dataset.ws;
    if (/^wss?:\/\//.test(path)) return path;
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
  }

  function connect() {
    clearTimeout(retryTimer);
    if (ws) return;                 // one socket at a time; dropSocket() clears it
    let sock;
    try { sock = new WebSocket(wsUrl()); } catch { scheduleReconnect(); return; }
    ws = sock;
    sock.onopen = () => onOpen(sock);
    sock.onmessage = (e) => { if (sock === ws) onMessage(e.data); };
    sock.onclose = () => { if (sock === ws) dropSocket(); };
    armDeadTimer();                 // a connect stuck on a dead network counts as dead too
  }

  function onOpen(sock) {
    if (sock !== ws) return;
    attempt = 0;
    lastSeq = {};                   // seq restarts on every new socket
    disarmDeadTimer();
    setStatus('connected');
    // Pending actions first (the server applies an id once), then a fresh view of everything.
    for (const p of pending.values()) send(p.msg);
    send({ type: 'resync' });
    ping();                         // the pong sets the countdowns' clock
    clearInterval(pingTimer);
    pingTimer = setInterval(ping, PING_EVERY);
  }

  // Forget the current socket (dead, closed, or the browser went offline) and retry later.
  function dropSocket() {
    const sock = ws;
    ws = null;
    clearInterval(pingTimer);
    disarmDeadTimer();
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = null;
      try { sock.close(); } catch { /* already closing */ }
    }
    setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    scheduleReconnect();
  }

  // Backoff 0.5 s, 1 s, 2 s… up to 5 s; the jitter keeps a room of phones from
  // all reconnecting in the same millisecond when the Wi-Fi comes back.
  function scheduleReconnect() {
    clearTimeout(retryTimer);
    const base = Math.min(5000, 500 * 2 ** attempt);
    attempt = Math.min(attempt + 1, 10);
    retryTimer = setTimeout(connect, Math.min(5000, base * (0.75 + Math.random() * 0.5)));
  }

  function send(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  function ping() { if (send({ type: 'ping' })) { pingSentAt = performance.now(); armDeadTimer(); } }
  function armDeadTimer() { if (!deadTimer) deadTimer = setTimeout(onDead, DEAD_AFTER); }
  function disarmDeadTimer() { clearTimeout(deadTimer); deadTimer = 0; }
  function onDead() { deadTimer = 0; dropSocket(); }

  // Phone woke up, tab came back, or the network returned: don't wait for the backoff.
  function wake() {
    if (!LIVE) return;
    if (!ws) { attempt = 0; connect(); } else if (ws.readyState === WebSocket.OPEN) ping();
  }

  function onMessage(raw) {
    disarmDeadTimer();              // any message at all proves the socket is alive
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'view') applyView(msg);
    else if (msg.type === 'ack') onAck(msg);
    else if (msg.type === 'pong') onPong(msg);
    else if (msg.type === 'error') toast((msg.error && msg.error.message) || t('rejected'), true);
  }

  /* ---------- status line and toast (text only, never HTML) ---------- */

  function setStatus(state) {
    const box = document.getElementById('connection');
    body.dataset.connection = state;
    clearTimeout(statusTimer);
    if (!box) return;
    if (state === 'connected') { box.textContent = ''; return; }
    // A short grace keeps page loads and one-second blips silent; offline shows at once.
    const show = () => { box.textContent = t(body.dataset.connection); };
    if (box.textContent || state === 'offline') show(); else statusTimer = setTimeout(show, 1200);
  }

  // toast('') hides it: an "Envoyé" still showing must not contradict a fresh refusal.
  function toast(text, isError) {
    const box = document.getElementById('toast');
    if (!box) return;
    clearTimeout(toastTimer);
    box.classList.toggle('is-visible', Boolean(text));
    if (!text) return;
    box.textContent = text;
    box.classList.toggle('toast--error', Boolean(isError));
    toastTimer = setTimeout(() => box.classList.remove('is-visible'), isError ? 6000 : 2500);
  }

  /* ---------- views (the DOM patching itself is in morph.js) ---------- */

  function applyView(msg) {
    const stream = msg.stream || 'shared';
    if (typeof msg.seq === 'number') {
      if (msg.seq < (lastSeq[stream] ?? -Infinity)) return;   // late message from before a newer one
      lastSeq[stream] = msg.seq;
    }
    const regions = msg.regions && typeof msg.regions === 'object' ? msg.regions : {};
    Object.assign(lastHtml, regions);
    applyRegions(regions);
  }

  function applyRegions(regions) {
    for (const el of morph.apply(regions)) restoreDrafts(el);
    tickCountdowns();               // morphed digits are from render time: correct them now
    fitScreen();
  }

  // The projector never scrolls: raise main's density level (cumulative tokens "d1 d2 …",
  // see palabre.css) only while its content overflows, so grids shrink no more than needed.
  // All in one task, so the browser never paints the intermediate levels.
  function fitScreen() {
    const main = AUDIENCE === 'screen' && document.querySelector('[data-region="main"]');
    if (!main) return;
    const boxes = [main, ...main.querySelectorAll(':scope > *, .screen-activity, .cards, .bars')];
    const overflows = () => boxes.some((el) => el.scrollHeight > el.clientHeight + 1);
    const levels = [];
    main.dataset.density = '';
    while (levels.length < MAX_DENSITY && overflows()) {
      levels.push(`d${levels.length + 1}`);
      main.dataset.density = levels.join(' ');
    }
  }

  /* ---------- drafts (sessionStorage, best effort: storage may be off or full) ---------- */

  const isDrafted = (f) => Boolean(f.name) && (f.tagName === 'TEXTAREA' ||
    (f.tagName === 'INPUT' && !NOT_DRAFTED.test(f.type)));
  const draftKey = (form, f) =>
    `draft:${AUDIENCE}:${form.getAttribute('data-step') || ''}:${form.getAttribute('data-action')}:${f.name}`;

  function draftGet(key) { try { return sessionStorage.getItem(key); } catch { return null; } }
  function draftSet(key, value) {
    try { if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key); } catch { /* full */ }
  }

  function restoreDrafts(root) {
    for (const form of root.querySelectorAll('form[data-action]')) {
      for (const f of Array.from(form.elements)) {
        if (!isDrafted(f) || f.value !== '') continue;
        const value = draftGet(draftKey(form, f));
        if (value) { f.value = value; edited.add(form); }
      }
    }
  }

  function clearDrafts(form) {
    for (const f of Array.from(form.elements)) if (isDrafted(f)) draftSet(draftKey(form, f), '');
  }

  function onInput(e) {
    const f = e.target;
    if (!(f instanceof Element) || !f.matches(FIELDS)) return;
    edited.add(f.form || f);
    if (f.form && f.form.hasAttribute('data-action') && isDrafted(f)) {
      draftSet(draftKey(f.form, f), f.value);
    }
  }

  /* ---------- actions ---------- */

  function act(el, action, step, data) {
    const msg = { type: 'act', id: newId(), step: step || null, action, data };
    pending.set(msg.id, { msg, el, disabled: setBusy(el) });
    send(msg);                      // if the socket is down it leaves on the next open
  }

  // Returns the buttons it disabled, so the ack re-enables only those (not server-disabled ones).
  function setBusy(el) {
    el.setAttribute('aria-busy', 'true');
    if (el.tagName !== 'FORM') return [];
    const buttons = el.querySelectorAll('button:not([type=button]):not([type=reset]), input[type=submit]');
    const off = Array.from(buttons).filter((b) => !b.disabled);
    for (const b of off) b.disabled = true;
    return off;
  }

  // The form may have been re-created by a view while we waited: find it again by identity.
  function liveElement(el) {
    if (el.isConnected) return el;
    if (el.tagName !== 'FORM') return null;
    return document.querySelector(`form[data-action="${CSS.escape(el.getAttribute('data-action'))}"]` +
      `[data-step="${CSS.escape(el.getAttribute('data-step') || '')}"]`);
  }

  function onAck(msg) {
    const p = pending.get(msg.id);
    if (!p) return;                 // duplicate answer to a re-sent action
    pending.delete(msg.id);
    p.el.removeAttribute('aria-busy');
    for (const b of p.disabled) b.disabled = false;
    const el = liveElement(p.el);
    if (msg.ok) onOk(p.el, el); else onRejected(el, msg.error);
    applyRegions(lastHtml);         // what was protected while pending can now catch up
  }

  function onOk(sentFrom, el) {
    if (sentFrom.tagName !== 'FORM') return;   // a vote's feedback is the view update itself
    clearDrafts(sentFrom);
    edited.delete(sentFrom);
    if (el) {
      el.removeAttribute('aria-busy');
      edited.delete(el);
      // A sticky form (a picker reused for several actions) keeps its choice after an ack.
      if (!el.hasAttribute('data-sticky')) HTMLFormElement.prototype.reset.call(el);  // immune to a field named "reset"
      setFeedback(el, '');
    }
    toast(t('sent'));
  }

  function onRejected(el, error) {
    const text = (error && error.message) || t('rejected');
    toast(setFeedback(el, text) ? '' : text, true);
    const name = error && error.field;
    const field = name && el && el.tagName === 'FORM' && el.querySelector(`[name="${CSS.escape(name)}"]`);
    if (field) field.setAttribute('aria-invalid', 'true');   // the server named the faulty field
  }

  function setFeedback(el, text) {
    const box = el && el.tagName === 'FORM' ? el.querySelector('[data-feedback]') : null;
    if (box) box.textContent = text;
    return Boolean(box);
  }

  function onSubmit(e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-action')) return;
    e.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;   // still waiting for the ack
    const data = {};
    for (const [k, v] of new FormData(form)) if (typeof v === 'string') data[k] = v;
    // A submit button may live outside its form (form="…") and carry the item it acts on.
    if (e.submitter && e.submitter.name) data[e.submitter.name] = e.submitter.value;
    setFeedback(form, '');
    for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
    act(form, form.getAttribute('data-action'), form.getAttribute('data-step'), data);
  }

  function onClick(e) {
    const btn = e.target instanceof Element ? e.target.closest('button[data-action]') : null;
    if (!btn || btn.closest('form[data-action]')) return;     // form buttons just submit
    e.preventDefault();
    if (btn.getAttribute('aria-busy') === 'true') return;      // a double tap is not two votes
    const question = btn.getAttribute('data-confirm');
    if (question && !window.confirm(question)) return;
    const data = {};
    for (const a of Array.from(btn.attributes)) {
      if (a.name.startsWith('data-arg-')) data[a.name.slice(9)] = a.value;
    }
    act(btn, btn.getAttribute('data-action'), btn.getAttribute('data-step'), data);
  }

  /* ---------- countdowns: <time data-countdown> (see plugins/pitches/templates/countdown.html) ---------- */

  // Server time = performance.now() + clockOffset (monotonic: a phone's clock change is ignored).
  let clockOffset = null, pingSentAt = 0;

  // offset = server_now - (t_sent + t_received) / 2; the latest pong wins, as the server's
  // clock is the reference even when it moves (tests move it).
  function onPong(msg) {
    if (typeof msg.now === 'number' && pingSentAt) clockOffset = msg.now - (pingSentAt + performance.now()) / 2;
    pingSentAt = 0;
    tickCountdowns();
  }

  function countdownText(ms) {   // "03:00" counting down, "+0:12" once over (as the server does)
    const over = ms < 0, s = over ? Math.floor(-ms / 1000) : Math.ceil(ms / 1000);
    const mm = Math.floor(s / 60), ss = String(s % 60).padStart(2, '0');
    return over ? `+${mm}:${ss}` : `${String(mm).padStart(2, '0')}:${ss}`;
  }

  // Attributes are re-read on every tick, so a morphed or replaced element is picked up at once.
  function tickCountdowns() {
    for (const el of document.querySelectorAll('[data-countdown]')) {
      const d = el.dataset, rendered = Number(d.now);
      // The server drew this at data-now: its clock reads at least that (a first estimate too).
      if (rendered && (clockOffset === null || performance.now() + clockOffset < rendered)) {
        clockOffset = rendered - performance.now();
      }
      const left = d.state === 'running'
        ? Number(d.deadline) - (performance.now() + (clockOffset || 0)) : Number(d.remaining);
      if (!Number.isFinite(left)) continue;
      const text = countdownText(left), warn = Number(d.warn) || 0;
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle('is-warning', left >= 0 && warn > 0 && left <= warn);
      el.classList.toggle('is-overrun', left < 0);
    }
  }

  /* ---------- start ---------- */

  document.addEventListener('input', onInput);
  document.addEventListener('submit', onSubmit);
  document.addEventListener('click', onClick);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') wake();
  });
  window.addEventListener('online', wake);
  window.addEventListener('pageshow', wake);
  window.addEventListener('resize', fitScreen);
  // The browser knows the network is gone: stop trusting the socket now, not 25 s later.
  window.addEventListener('offline', () => { if (ws) dropSocket(); else if (LIVE) setStatus('offline'); });

  restoreDrafts(document);
  tickCountdowns();
  setInterval(tickCountdowns, 250);
  fitScreen();
  if (LIVE) { setStatus('reconnecting'); connect(); }
})();
