// tools/chat_page.hpp — the page zws-chat serves at /: one self-contained
// document (no external resources). Every piece of user data is rendered with
// textContent, never innerHTML.
#pragma once

namespace zws_tools {

inline constexpr const char* chat_page = R"zwspage(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zws chat</title>
<style>
  :root { --bg: #f4f5f7; --panel: #fff; --ink: #1d2330; --muted: #6b7280; --accent: #2563eb; --mine: #e8f0fe; }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; font: 15px/1.45 system-ui, "Noto Sans", "Liberation Sans", sans-serif; background: var(--bg); color: var(--ink);
         display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: var(--ink); color: #fff; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .status { margin-left: auto; font-size: 13px; color: #cbd5e1; }
  header .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; background: #9ca3af; margin-right: 6px; }
  body[data-state="open"] header .dot { background: #22c55e; }
  body[data-state="closed"] header .dot { background: #ef4444; }
  #log { list-style: none; margin: 0; padding: 12px 16px; overflow-y: auto; flex: 1; }
  #log li { margin: 4px 0; max-width: 80%; padding: 6px 10px; border-radius: 10px; background: var(--panel);
            box-shadow: 0 1px 2px rgba(0,0,0,.08); white-space: pre-wrap; overflow-wrap: anywhere; width: fit-content; }
  #log li.mine { background: var(--mine); margin-left: auto; }
  #log li.sys { background: none; box-shadow: none; color: var(--muted); font-size: 13px; font-style: italic; padding: 2px 0; }
  #log .nick { font-weight: 600; color: var(--accent); margin-right: 8px; }
  #log .time { color: var(--muted); font-size: 11px; margin-left: 8px; }
  form { display: flex; gap: 8px; padding: 10px 16px; background: var(--panel); border-top: 1px solid #e5e7eb; }
  input { font: inherit; padding: 8px 10px; border: 1px solid #d1d5db; border-radius: 8px; }
  #text { flex: 1; }
  #nick, #room { width: 160px; }
  #room-name { font-size: 14px; color: #cbd5e1; }
  button { font: inherit; padding: 8px 16px; border: 0; border-radius: 8px; background: var(--accent); color: #fff; cursor: pointer; }
  button:disabled, input:disabled { opacity: .5; }
</style>
</head>
<body data-state="connecting">
<header><h1>zws chat</h1><span id="room-name"></span><span id="who"></span><span class="status"><span class="dot"></span><span id="status">connecting…</span></span></header>
<ul id="log" aria-live="polite"></ul>
<form id="join"><input id="nick" placeholder="your nickname" maxlength="24" autocomplete="nickname"><input id="room" placeholder="room (lobby)" maxlength="32" autocomplete="off"><button>Join</button></form>
<form id="send" hidden><input id="text" placeholder="say something" maxlength="4000" autocomplete="off"><button>Send</button></form>
<script>
'use strict';
const $ = id => document.getElementById(id);
let socket = null, me = '', joined = false, joining = false;
// The room is the page's ?room= (the socket connects to /chat?room=...); the
// join form can pick another, which reconnects there.
let room = new URLSearchParams(location.search).get('room') || 'lobby';
$('nick').value = localStorage.getItem('zws-chat-nick') || '';
$('room').value = room;

function add(cls, nick, text) {
  const li = document.createElement('li');
  li.className = cls;
  if (nick !== null) {
    const n = document.createElement('span');
    n.className = 'nick'; n.textContent = nick;
    li.append(n);
  }
  li.append(document.createTextNode(text));
  const t = document.createElement('span');
  t.className = 'time'; t.textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  li.append(t);
  $('log').append(li);
  li.scrollIntoView({ block: 'end' });
}
const note = text => add('sys', null, text);
const setStatus = (state, text) => { document.body.dataset.state = state; $('status').textContent = text; };

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat?room=${encodeURIComponent(room)}`;
  const s = socket = new WebSocket(url);
  s.onopen = () => {
    setStatus('open', 'connected');
    if (joined) s.send(`join\n${me}`);
    else if (joining) s.send(`join\n${$('nick').value.trim()}`);
  };
  s.onmessage = event => {
    const [kind, a = '', ...rest] = String(event.data).split('\n');
    const b = rest.join('\n');
    if (kind === 'welcome') {
      me = a; joined = true; joining = false; $('nick').value = a;
      $('join').hidden = true; $('send').hidden = false; $('text').focus();
      $('who').textContent = `you are ${a}`;
      $('room-name').textContent = `#${rest[1] || room}`;
      note(`Welcome to #${rest[1] || room}, ${a}! Online: ${rest[0] || ''}`);
    } else if (kind === 'join') {
      if (a !== me) note(`${a} joined (${b} online)`);
    } else if (kind === 'leave') {
      note(`${a} left (${b} online)`);
    } else if (kind === 'nick') {
      if (a === me) { me = b; $('who').textContent = `you are ${b}`; }
      note(`${a} is now known as ${b}`);
    } else if (kind === 'msg') {
      add(a === me ? 'mine' : 'theirs', a, b);
    }
  };
  s.onclose = event => {
    if (s !== socket) return;  // replaced by a connection to another room
    setStatus('closed', `disconnected (${event.code}), retrying…`);
    setTimeout(connect, 2000);
  };
}

$('join').addEventListener('submit', event => {
  event.preventDefault();
  const nick = $('nick').value.trim();
  localStorage.setItem('zws-chat-nick', nick);
  const wanted = $('room').value.trim() || 'lobby';
  if (wanted !== room) {
    room = wanted; joining = true;
    history.replaceState(null, '', `?room=${encodeURIComponent(room)}`);
    const old = socket;
    connect();
    old.close();
    return;
  }
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(`join\n${nick}`);
});
$('send').addEventListener('submit', event => {
  event.preventDefault();
  const text = $('text').value;
  if (!text.trim() || !socket || socket.readyState !== WebSocket.OPEN) return;
  if (text.startsWith('/nick ')) socket.send(`nick\n${text.slice(6)}`);
  else socket.send(`say\n${text}`);
  $('text').value = '';
});
connect();
</script>
</body>
</html>
)zwspage";

}  // namespace zws_tools
