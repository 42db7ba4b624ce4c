// A Node `ws` client for scripts/interop.sh: runs the interop cases against our servers and
// prints `PASS case: detail` or `FAIL case: why` for each.
//
// Usage: node node_client.js ECHO_URL COMMAND_URL   (NODE_PATH must find `ws`)
//   ECHO_URL     the echo_server example (data cases)
//   COMMAND_URL  the interop_server example (closes, pings, fragments, subprotocols, refusal),
//                or `-` for a plain echo server: then only the data cases run (and deflate is
//                checked on the client's side only)
// With INTEROP_DEFLATE=1 the client offers permessage-deflate (the servers are built with the
// `deflate` feature) and checks that it was negotiated; otherwise it offers nothing.
// Exit status 1 when a case failed.
'use strict';
const WebSocket = require('ws');

const [ECHO, CMD] = process.argv.slice(2);
const FRAGMENTED = 'fragmented ✓ ';
const DEFLATE = process.env.INTEROP_DEFLATE === '1';

// A connection whose messages, pongs and close can be awaited in order.
function open(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { maxPayload: 64 << 20, perMessageDeflate: DEFLATE });
    const events = [];
    let wake = null;
    const push = (event) => {
      events.push(event);
      if (wake) wake();
    };
    ws.on('message', (data, isBinary) => push({ type: 'message', data, isBinary }));
    ws.on('pong', (data) => push({ type: 'pong', data }));
    ws.on('close', (code, reason) => push({ type: 'close', code, reason: reason.toString() }));
    ws.on('error', reject);
    ws.next = async () => {
      while (!events.length) await new Promise((r) => (wake = r));
      return events.shift();
    };
    ws.once('open', () => resolve(ws));
  });
}

async function next(ws, type) {
  const event = await ws.next();
  if (event.type !== type) throw new Error(`expected a ${type}, got a ${event.type}`);
  return event;
}

async function finish(ws) {
  ws.close(1000);
  while ((await ws.next()).type !== 'close');
}

const pattern = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

async function echo(data, isBinary) {
  const ws = await open(ECHO);
  ws.send(data, { binary: isBinary });
  const reply = await next(ws, 'message');
  if (reply.isBinary !== isBinary || !Buffer.from(data).equals(reply.data)) throw new Error('the echo differs');
  await finish(ws);
}

const cases = [
  ['text', async () => (await echo('Hello, wörld ✓ 🚀', false), 'echoed intact')],
  ['binary', async () => (await echo(pattern(1000), true), 'echoed intact')],
  ['empty messages (0 B)', async () => {
    await echo('', false);
    await echo(Buffer.alloc(0), true);
    return 'empty text and empty binary echoed';
  }],
  ...[[64 << 10, '64 KiB'], [16 << 20, '16 MiB']].map(([n, name]) => [name, async () => {
    const started = Date.now();
    await echo(pattern(n), true);
    return `${n} bytes echoed intact in ${Date.now() - started} ms`;
  }]),
  ['fragmented, sent', async () => {
    const ws = await open(ECHO);
    const bytes = Buffer.from('αβγ ✓ fragment '.repeat(500));
    for (let i = 0; i < bytes.length; i += 1000) {
      ws.send(bytes.subarray(i, i + 1000), { binary: false, fin: i + 1000 >= bytes.length });
    }
    const reply = await next(ws, 'message');
    if (reply.isBinary || !reply.data.equals(bytes)) throw new Error('text echo differs');
    await finish(ws);
    return `${bytes.length} B of text in 1000 B fragments (code points split) echoed`;
  }],
  ['fragmented, received', async () => {
    const ws = await open(CMD);
    ws.send('!frag');
    const reply = await next(ws, 'message');
    if (reply.data.toString() !== FRAGMENTED.repeat(1000)) throw new Error('reassembled text differs');
    await finish(ws);
    return '14000 B text in 4 KiB fragments reassembled';
  }],
  ['ping/pong, we ping', async () => {
    const ws = await open(CMD);
    ws.ping(Buffer.from('node ping'));
    const pong = await next(ws, 'pong');
    if (pong.data.toString() !== 'node ping') throw new Error(`pong payload ${pong.data}`);
    await finish(ws);
    return 'pong with our payload received';
  }],
  ['ping/pong, peer pings', async () => {
    const ws = await open(CMD);
    ws.send('!ping are you there');
    const reply = await next(ws, 'message');
    if (reply.data.toString() !== 'pong:are you there') throw new Error(`got ${reply.data}`);
    await finish(ws);
    return 'the peer saw our automatic pong with its payload';
  }],
  ['close code+reason, we close', async () => {
    const ws = await open(CMD);
    ws.close(4001, 'bye from node');
    const close = await next(ws, 'close');
    if (close.code !== 4001) throw new Error(`the peer echoed ${close.code}`);
    const query = await open(CMD);
    query.send('!lastclose');
    const got = (await next(query, 'message')).data.toString();
    await finish(query);
    if (got !== '4001 bye from node') throw new Error(`the peer recorded ${JSON.stringify(got)}`);
    return 'the peer received 4001 "bye from node" and echoed the code';
  }],
  ['close code+reason, peer closes', async () => {
    const ws = await open(CMD);
    ws.send('!close 4002 bye from rfc6455');
    const close = await next(ws, 'close');
    if (close.code !== 4002 || close.reason !== 'bye from rfc6455') {
      throw new Error(`got ${close.code} ${JSON.stringify(close.reason)}`);
    }
    return `received ${close.code} "${close.reason}"`;
  }],
  ['subprotocol negotiation', async () => {
    for (const [offer, expected] of [[['superchat', 'chat'], 'superchat'], [['chat'], 'chat']]) {
      const ws = await open(CMD, offer);
      if (ws.protocol !== expected) throw new Error(`offered ${offer}, got ${ws.protocol}`);
      ws.send('!protocol');
      if ((await next(ws, 'message')).data.toString() !== expected) throw new Error('the peer disagrees');
      await finish(ws);
    }
    // ws fails the connection when the server selects none of the protocols offered.
    try {
      await open(CMD, ['mqtt']);
    } catch (e) {
      if (e.message !== 'Server sent no subprotocol') throw e;
      return 'superchat,chat -> superchat; chat -> chat; mqtt -> none (ws: "Server sent no subprotocol")';
    }
    throw new Error('mqtt: a protocol was selected');
  }],
  ['rejected handshake (403)', async () => {
    try {
      await open(CMD.replace(/\/?$/, '/reject'));
    } catch (e) {
      if (e.message !== 'Unexpected server response: 403') throw e;
      return `error: ${e.message}`;
    }
    throw new Error('the handshake succeeded');
  }],
];

// The cases that need only an echo server.
const DATA_CASES = 6;
if (CMD === '-') cases.splice(DATA_CASES);

if (DEFLATE) {
  cases.push(['permessage-deflate', async () => {
    const ws = await open(CMD === '-' ? ECHO : CMD);
    if (!ws.extensions.startsWith('permessage-deflate')) throw new Error(`negotiated "${ws.extensions}"`);
    if (CMD !== '-') {
      ws.send('!extensions');
      if ((await next(ws, 'message')).data.toString() !== 'permessage-deflate') throw new Error('the peer disagrees');
    }
    const text = 'compressible '.repeat(80000);
    ws.send(text);
    if ((await next(ws, 'message')).data.toString() !== text) throw new Error('echo differs');
    await finish(ws);
    return `negotiated (${ws.extensions}); ${text.length} B echoed`;
  }]);
}

(async () => {
  let failed = false;
  for (const [name, run] of cases) {
    try {
      const detail = await Promise.race([
        run(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 60 s')), 60000)),
      ]);
      console.log(`PASS ${name}: ${detail}`);
    } catch (e) {
      failed = true;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
