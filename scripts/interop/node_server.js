// A Node `ws` server for scripts/interop.sh: echoes, and obeys the commands of the
// interop_server example (see examples/interop_server.rs), so examples/interop_client.rs can
// run the same cases against it.
//
// Usage: node node_server.js PORT   (listens on 127.0.0.1; NODE_PATH must find `ws`)
'use strict';
const { WebSocketServer } = require('ws');

const SUPPORTED = ['chat', 'superchat'];
const FRAGMENTED = 'fragmented ✓ ';
let lastClose = '';

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.argv[2]),
  maxPayload: 64 << 20,
  perMessageDeflate: true, // accepted when a client offers it
  // The first protocol in the client's order of preference that we speak.
  handleProtocols: (offered) => [...offered].find((p) => SUPPORTED.includes(p)) ?? false,
  verifyClient: (info, done) =>
    info.req.url === '/reject' ? done(false, 403, 'rejected by node_server') : done(true),
});

wss.on('listening', () => console.error(`node_server: listening on ws://127.0.0.1:${wss.address().port}/`));

wss.on('connection', (ws) => {
  let pingSent = null;
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    const [command, ...rest] = text.split(' ');
    const arg = rest.join(' ');
    if (command === '!close') {
      const [code, ...reason] = arg.split(' ');
      ws.close(Number(code), reason.join(' '));
    } else if (command === '!ping') {
      pingSent = arg;
      ws.ping(Buffer.from(arg));
    } else if (command === '!frag') {
      const bytes = Buffer.from(FRAGMENTED.repeat(1000));
      for (let i = 0; i < bytes.length; i += 4096) {
        ws.send(bytes.subarray(i, i + 4096), { binary: false, fin: i + 4096 >= bytes.length });
      }
    } else if (command === '!protocol') {
      ws.send(ws.protocol || 'none');
    } else if (command === '!extensions') {
      ws.send(ws.extensions.includes('permessage-deflate') ? 'permessage-deflate' : 'none');
    } else if (command === '!lastclose') {
      ws.send(lastClose);
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('pong', (data) => {
    if (pingSent !== null && data.toString() === pingSent) {
      ws.send(`pong:${pingSent}`);
      pingSent = null;
    }
  });
  ws.on('close', (code, reason) => {
    if (code !== 1000) lastClose = `${code} ${reason}`;
  });
});
