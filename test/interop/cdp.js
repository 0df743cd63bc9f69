// Headless Chromium driven over the DevTools protocol (with the `ws` client),
// so results come out of the page as values, not by sleeping and hoping.
//   node cdp.js browser NAME PAGE_URL ECHO_URL LIMIT_URL ROUTE_URL
//       the classic snippet (browser.html) and the page's runCases()
//   node cdp.js chat NAME CHAT_URL SCREENSHOT.png
//       two pages hold a conversation in zws-chat; saves a screenshot
//   node cdp.js deflate NAME PAGE_URL ECHO_URL
//       against zws-echo --deflate: the socket's extensions, text/JSON, binary,
//       1,000 messages in order (browser.html's runDeflateCases)
//   node cdp.js chat2 NAME CHAT_URL SCREENSHOT.png
//       two zws-chat instances bridged by Redis behind a round-robin nginx: two
//       pages in one room, on different instances, each see the other's lines
//   node cdp.js refused NAME HTTPS_URL
//       without --spki, the test certificate is not trusted: the page must not load
// Options (anywhere): --spki=BASE64 trusts exactly the key with that SHA-256
// of its SubjectPublicKeyInfo (--ignore-certificate-errors-spki-list: no NSS
// database needed, nothing else trusted); --untrusted=WSS_URL (browser mode):
// a wss:// server with another key, which must be refused.
// Chromium is started here in its own process group and killed by that id
// on every exit path. Prints "ok - NAME: case" / "not ok - NAME: case" lines.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const WebSocket = require('ws');

const options = Object.fromEntries(process.argv.slice(2).filter(a => a.startsWith('--'))
  .map(a => [a.slice(2, a.indexOf('=') < 0 ? undefined : a.indexOf('=')), a.includes('=') ? a.slice(a.indexOf('=') + 1) : true]));
const [mode, name, ...args] = process.argv.slice(2).filter(a => !a.startsWith('--'));
let browser = null;
let profile = null;
let passed = 0, failed = 0;

function cleanup() {
  if (browser && browser.exitCode === null) { try { process.kill(-browser.pid, 'SIGKILL'); } catch (e) { /* gone */ } }
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));

function within(ms, what, promise) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

async function launch() {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'zws-chromium-'));
  browser = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1',
    `--user-data-dir=${profile}`, '--window-size=900,700',
    ...(options.spki ? [`--ignore-certificate-errors-spki-list=${options.spki}`] : []), 'about:blank'],
  { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  browser.stderr.on('data', d => { stderr = (stderr + d).slice(-4000); });
  const portFile = path.join(profile, 'DevToolsActivePort');
  const deadline = Date.now() + 30000;
  while (!fs.existsSync(portFile) || fs.readFileSync(portFile, 'utf8').split('\n').length < 2) {
    if (browser.exitCode !== null) throw new Error(`chromium exited ${browser.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`chromium did not start: ${stderr}`);
    await new Promise(r => setTimeout(r, 50));
  }
  const [port, wsPath] = fs.readFileSync(portFile, 'utf8').split('\n');
  const sock = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { maxPayload: 256 << 20 });
  await within(10000, 'devtools connection', new Promise((res, rej) => { sock.on('open', res); sock.on('error', rej); }));
  return new Cdp(sock);
}

class Cdp {
  constructor(sock) {
    this.sock = sock; this.id = 0; this.pending = new Map();
    sock.on('message', data => {
      const m = JSON.parse(data);
      const p = m.id && this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.rej(new Error(m.error.message)); else p.res(m.result);
    });
  }
  send(method, params = {}, sessionId, ms = 30000) {
    const id = ++this.id;
    this.sock.send(JSON.stringify({ id, method, params, sessionId }));
    return within(ms, method, new Promise((res, rej) => this.pending.set(id, { res, rej })));
  }
  async page(url) {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, sessionId);
    page.targetId = targetId;
    await page.send('Page.enable');
    await page.send('Runtime.enable');
    await page.goto(url);
    return page;
  }
}

class Page {
  constructor(cdp, sessionId) { this.cdp = cdp; this.sessionId = sessionId; }
  send(method, params, ms) { return this.cdp.send(method, params, this.sessionId, ms); }
  async goto(url) {
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
    await this.waitFor('document.readyState === "complete"', 15000);
  }
  // Evaluates an expression in the page; awaits a promise it returns.
  async eval(expression, ms = 30000) {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, ms + 1000);
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
    return r.result.value;
  }
  // Polls a condition in the page until it holds, or throws after ms.
  async waitFor(expression, ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await this.eval(`!!(${expression})`, ms)) return;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${expression}`);
      await new Promise(r => setTimeout(r, 50));
    }
  }
}

function report(title, ok, detail) {
  if (ok) { passed++; console.log(`ok - ${name}: ${title}`); } else { failed++; console.log(`not ok - ${name}: ${title}: ${detail}`); }
}

async function browserSuite([pageUrl, echoUrl, limitUrl, routeUrl]) {
  const cdp = await launch();
  const url = `${pageUrl}?url=${encodeURIComponent(echoUrl)}`;
  const page = await cdp.page(url);
  // The classic snippet runs on load and settles window.classic.
  const c = await page.eval('window.classic', 20000);
  report('classic snippet: "Hello WebSockets!" echoed, onclose 1000 and wasClean',
    c.echo === 'Hello WebSockets!' && c.code === 1000 && c.wasClean === true, JSON.stringify(c));
  const dom = await page.eval('document.getElementById("result").textContent');
  report('classic snippet: result written into the page', dom.startsWith('PASS'), dom);
  const cases = await page.eval(`runCases(${JSON.stringify({ echoUrl, limitUrl, routeUrl, name })})`, 180000);
  for (const [title, ok, detail] of cases) report(title, ok, detail);
  if (options.untrusted) {
    const r = await page.eval(`new Promise(done => { const ws = new WebSocket(${JSON.stringify(options.untrusted)});
      ws.onopen = () => { ws.close(); done('opened'); }; ws.onerror = () => done('refused'); })`, 15000);
    report('a wss:// server with another key is refused', r === 'refused', r);
  }
}

async function deflateSuite([pageUrl, echoUrl]) {
  const cdp = await launch();
  const page = await cdp.page(`${pageUrl}?url=${encodeURIComponent(echoUrl)}`);
  await page.eval('window.classic', 20000);
  const cases = await page.eval(`runDeflateCases(${JSON.stringify(echoUrl)})`, 120000);
  for (const [title, ok, detail] of cases) report(title, ok, detail);
}

async function refusedSuite([url]) {
  const cdp = await launch();
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const r = await cdp.send('Page.navigate', { url }, sessionId);
  report(`without --spki the test certificate is refused (${r.errorText || 'loaded'})`,
    /ERR_CERT_AUTHORITY_INVALID/.test(r.errorText || ''), r.errorText || 'the page loaded');
}

// The chat page, driven as a user would.
async function join(page, nick) {
  await page.eval(`(() => { document.getElementById('nick').value = ${JSON.stringify(nick)};
                  document.getElementById('join').requestSubmit(); })()`);
  await page.waitFor(`!document.getElementById('send').hidden`);
}
const say = (page, text) => page.eval(`(() => { const t = document.getElementById('text'); t.value = ${JSON.stringify(text)};
                  document.getElementById('send').requestSubmit(); })()`);
const sees = (page, text, ms = 10000) =>
  page.waitFor(`[...document.querySelectorAll('#log li')].some(li => li.textContent.includes(${JSON.stringify(text)}))`, ms);
async function step(title, fn) {
  try { await within(20000, title, fn()); report(title, true); } catch (e) { report(title, false, e.message); }
}
async function screenshot(page, png) {
  const shot = await page.send('Page.captureScreenshot', { format: 'png' });
  fs.mkdirSync(path.dirname(png), { recursive: true });
  fs.writeFileSync(png, Buffer.from(shot.data, 'base64'));
  console.log(`# screenshot: ${png}`);
}

async function chatSuite([chatUrl, png]) {
  const cdp = await launch();
  const alice = await cdp.page(chatUrl);
  const bob = await cdp.page(chatUrl);
  await step('both pages connect', async () => {
    await alice.waitFor('document.body.dataset.state === "open"');
    await bob.waitFor('document.body.dataset.state === "open"');
  });
  await step('nicknames set, join announced to the other page', async () => {
    await join(alice, 'alice'); await join(bob, 'bob');
    await sees(alice, 'bob joined'); await sees(bob, 'Online: ');
  });
  await step('alice sends, bob sees it (and alice too)', async () => {
    await say(alice, 'Hello WebSockets! 你好 🎉');
    await sees(bob, 'Hello WebSockets! 你好 🎉'); await sees(alice, 'Hello WebSockets! 你好 🎉');
  });
  await step('bob answers, alice sees it', async () => {
    await say(bob, 'Hi alice, loud and clear 👋');
    await sees(alice, 'Hi alice, loud and clear 👋');
  });
  await step('markup is shown as text, never run', async () => {
    await say(bob, '<img src=x onerror="window.pwned=1"><b>not bold</b>');
    await sees(alice, '<b>not bold</b>');
    const bad = await alice.eval('!!window.pwned || !!document.querySelector("#log b, #log img")');
    if (bad) throw new Error('user text was rendered as HTML');
  });
  await step('screenshot saved', async () => {
    await say(alice, 'Nice — see you later!');
    await sees(bob, 'Nice — see you later!');
    await screenshot(alice, png);
  });
  await step('leave announced', async () => {
    await cdp.send('Target.closeTarget', { targetId: bob.targetId });
    await sees(alice, 'bob left');
  });
  await step('a rename is announced', async () => {
    await say(alice, '/nick alice 🌸');
    await sees(alice, 'alice is now known as alice 🌸');
  });
}

// Two zws-chat instances share a room through Redis. nginx hands WebSocket
// connections to its two upstreams in turn, so alice's page (connected first)
// and bob's land on different instances; each instance lists only its own
// members in its welcome, which shows where each page landed.
async function chat2Suite([chatUrl, png]) {
  const cdp = await launch();
  const url = `${chatUrl}?room=${encodeURIComponent(`bridge-${process.pid}`)}`;
  const alice = await cdp.page(url);
  await alice.waitFor('document.body.dataset.state === "open"');
  const bob = await cdp.page(url);
  await step('both pages connect through nginx', () => bob.waitFor('document.body.dataset.state === "open"'));
  await step('they are on different instances (each welcome lists only its own page)', async () => {
    await join(alice, 'alice'); await join(bob, 'bob');
    await sees(alice, 'Online: alice'); await sees(bob, 'Online: bob');
    const both = await bob.eval(`[...document.querySelectorAll('#log li')].some(li => /Online: .*alice/.test(li.textContent))`);
    if (both) throw new Error('bob\'s instance lists alice: both pages are on one instance');
  });
  await step('bob\'s join reaches alice across instances', () => sees(alice, 'bob joined'));
  await step('alice sends, bob (other instance) sees it', async () => {
    await say(alice, 'Hello from instance A 👋');
    await sees(bob, 'Hello from instance A 👋');
  });
  await step('bob answers, alice (other instance) sees it', async () => {
    await say(bob, 'Hi alice, instance B here — 你好');
    await sees(alice, 'Hi alice, instance B here — 你好');
  });
  await step('screenshot saved', () => screenshot(bob, png));
}

const suites = { browser: browserSuite, chat: chatSuite, deflate: deflateSuite, chat2: chat2Suite, refused: refusedSuite };
if (!suites[mode] || !name) { console.error('usage: cdp.js browser|chat|deflate|chat2|refused NAME ...'); process.exit(2); }
within(240000, 'whole suite', suites[mode](args))
  .catch(e => { failed++; console.log(`not ok - ${name}: ${e.message}`); })
  .finally(() => process.exit(failed ? 1 : 0));
