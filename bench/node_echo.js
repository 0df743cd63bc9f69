// bench/node_echo.js — the Node `ws` echo server zws is compared with.
//
//   node bench/node_echo.js [PORT] [HOST] [--tls-cert F --tls-key F] [--deflate] [--fanout]
//
// (default 9003 on 127.0.0.1.) Echoes every message with its own type (text or binary).
//   --tls-cert/--tls-key  wss:// (an https.Server under the WebSocketServer)
//   --deflate             perMessageDeflate with ws's defaults (level 6 through zlib,
//                         context kept both ways, messages from 1 KiB on compressed)
//   --fanout              every message is sent to every open connection, sender
//                         included (a loop over wss.clients: ws has no topics)
// `ws` is installed by bench/e2e.sh into bench/node_modules (npm ci).
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, name.startsWith('--tls') ? 2 : 1);
  return name.startsWith('--tls') ? value : true;
};
const cert = flag('--tls-cert');
const key = flag('--tls-key');
const deflate = flag('--deflate') === true;
const fanout = flag('--fanout') === true;
const port = Number(args[0] || 9003);
const host = args[1] || '127.0.0.1';

const options = { perMessageDeflate: deflate, clientTracking: fanout, maxPayload: 64 << 20 };
let server;
if (cert && key) {
  server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
  options.server = server;
} else {
  options.host = host;
  options.port = port;
}
const wss = new WebSocketServer(options);

wss.on('connection', (ws) => {
  if (fanout) {
    ws.on('message', (data, isBinary) => {
      for (const peer of wss.clients) peer.send(data, { binary: isBinary });
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
  ws.on('error', () => ws.terminate());
});
const listening = () => process.stderr.write(
  `node_echo (ws ${require('ws/package.json').version}${cert ? ', TLS' : ''}${deflate ? ', deflate' : ''}` +
  `${fanout ? ', fanout' : ''}) listening on ${host}:${port}\n`);
const fail = (err) => {
  process.stderr.write(`node_echo: ${err.message}\n`);
  process.exit(1);
};
if (server) {
  server.on('error', fail);
  server.listen(port, host, listening);
} else {
  wss.on('listening', listening);
}
wss.on('error', fail);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
