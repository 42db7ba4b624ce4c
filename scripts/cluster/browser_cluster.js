// Headless Chromium on the chat room across two nodes, for scripts/cluster.sh. Prints
// `PASS case: detail` or `FAIL case: why`; asks the script to kill and start processes with
// lines `CTL <command>` on stdout and waits for the script's `done` on stdin.
//
// Usage: node browser_cluster.js NODE_A_URL NODE_B_URL NGINX_URL /usr/bin/chromium SHOT.png
//        (NODE_PATH must find `playwright-core` and `ws`).
//
// Pages loaded from a node's own address stay on that node (alice on a, bob on b); pages
// loaded through nginx (carol, dave) are balanced with least_conn, so they land on different
// nodes, and a page whose node dies reconnects through nginx to the other one.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');
const WebSocket = require('ws');

const [urlA, urlB, urlNginx, executablePath, screenshot] = process.argv.slice(2);
const EXPIRY_MS = 5000;    // the presence expiry of the nodes (bus.rs)
const HEARTBEAT_MS = 1000; // their heartbeat
let failed = false;
const report = (ok, name, detail) => {
  failed ||= !ok;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
  return ok;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- talking to the script
const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (line) => waiting.shift()?.(line));
function control(command) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${command}`)), 30000);
    waiting.push((line) => {
      clearTimeout(timer);
      line === 'done' ? resolve() : reject(new Error(`${command}: ${line}`));
    });
    console.log(`CTL ${command}`);
  });
}

// ---------------------------------------------------------------- helpers
async function status(url) {
  const response = await fetch(new URL('/status', url));
  return response.json();
}
// Waits until pred() is true; returns the milliseconds it took, or throws after timeoutMs.
async function until(what, timeoutMs, pred) {
  const start = Date.now();
  for (;;) {
    if (await pred()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}
const busIs = (url, up) => until(`bus ${up ? 'up' : 'down'} at ${url}`, 20000,
  async () => (await status(url).catch(() => ({}))).bus === up);

async function open(context, url, nick) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.fill('#nick', nick);
  await page.click('#join button');
  await page.waitForSelector('body[data-node]', { timeout: 10000 });
  return { page, nick, errors, node: () => page.evaluate(() => document.body.dataset.node ?? null) };
}
const logHas = (p, text) => p.page.evaluate((t) =>
  [...document.querySelectorAll('#log li')].some((li) => li.textContent.includes(t)), text);
const logCount = (p, text) => p.page.evaluate((t) =>
  [...document.querySelectorAll('#log li')].filter((li) => li.textContent.includes(t)).length, text);
const onlineList = (p) => p.page.evaluate(() =>
  [...document.querySelectorAll('#online li')].map((li) => li.textContent));
const waitLog = (p, text, timeout = 5000) =>
  until(`${p.nick} sees "${text}"`, timeout, () => logHas(p, text));
async function say(p, text) {
  await p.page.fill('#text', text);
  await p.page.press('#text', 'Enter');
}
// Runs one check; a thrown error is its FAIL.
async function check(name, body) {
  try {
    const detail = await body();
    return report(true, name, detail);
  } catch (e) {
    return report(false, name, e.message.split('\n')[0]);
  }
}

// A WebSocket client from Node: resolves with the close code the server sent.
function closeCodeAfter(url, action) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin: new URL(url).origin.replace('ws', 'http') });
    const timer = setTimeout(() => reject(new Error('no close within 20 s')), 20000);
    ws.on('open', () => action(ws));
    ws.on('error', () => {});
    ws.on('close', (code) => { clearTimeout(timer); resolve(code); });
  });
}

// ---------------------------------------------------------------- the checks
async function run(context) {
  await check('0 nodes started before Redis join the bus', async () => {
    const ms = Math.max(await busIs(urlA, true), await busIs(urlB, true));
    return `both nodes report the bus up (${ms} ms after the first look)`;
  });

  // 1. Two pages on different nodes: messages, joins, leaves.
  const alice = await open(context, urlA, 'alice');
  const bob = await open(context, urlB, 'bob');
  await check('1 pages on different nodes', async () => {
    const [a, b] = [await alice.node(), await bob.node()];
    if (a !== 'a' || b !== 'b') throw new Error(`alice on ${a}, bob on ${b}`);
    return 'alice is on node a, bob on node b (their welcome says so)';
  });
  await check('1 join crosses nodes', async () => {
    await waitLog(alice, 'bob joined');
    return 'alice (a) saw "bob joined" (b)';
  });
  await check('1 messages cross nodes both ways', async () => {
    await say(alice, 'Hello Bob, from node a');
    await waitLog(bob, 'alice: Hello Bob, from node a');
    await say(bob, 'Hi Alice, from node b');
    await waitLog(alice, 'bob: Hi Alice, from node b');
    return 'a -> b and b -> a';
  });
  await check('1 each event arrives once (a node skips its own events coming back from Redis)', async () => {
    await sleep(300); // time for a duplicate to show
    const counts = [await logCount(alice, 'Hello Bob, from node a'), await logCount(bob, 'Hello Bob, from node a'),
      await logCount(alice, 'Hi Alice, from node b'), await logCount(bob, 'Hi Alice, from node b'),
      await logCount(alice, 'bob joined')];
    if (counts.some((n) => n !== 1)) throw new Error(`counts ${counts.join(', ')} (each should be 1)`);
    return 'both messages once in each page (the sender\'s own line included), "bob joined" once';
  });
  await check('1 join and leave from the other node', async () => {
    const eve = await open(context, urlB, 'eve');
    await waitLog(alice, 'eve joined');
    await eve.page.close();
    await waitLog(alice, 'eve left');
    return 'eve came and went on node b; alice on node a saw both';
  });

  // 2. Shared presence.
  await check('2 online lists are shared', async () => {
    await until('each online list shows the other', 5000, async () =>
      (await onlineList(alice)).includes('bob') && (await onlineList(bob)).includes('alice') &&
      !(await onlineList(alice)).includes('eve'));
    return `alice's list: ${(await onlineList(alice)).join(', ')}; bob's: ${(await onlineList(bob)).join(', ')}`;
  });

  // 3. A node killed mid-chat.
  const carol = await open(context, urlNginx, 'carol');
  const dave = await open(context, urlNginx, 'dave');
  const pages = [carol, dave];
  let onA, onB;
  const balanced = await check('3 nginx spreads pages over both nodes', async () => {
    const nodes = [await carol.node(), await dave.node()];
    onA = pages[nodes.indexOf('a')];
    onB = pages[nodes.indexOf('b')];
    if (!onA || !onB) throw new Error(`carol on ${nodes[0]}, dave on ${nodes[1]}`);
    return `carol on ${nodes[0]}, dave on ${nodes[1]} (through nginx)`;
  });
  if (!balanced) return;
  await until('everyone online everywhere', 5000, async () =>
    (await onlineList(bob)).join() === 'alice,bob,carol,dave');
  await control('KILL a');
  const killedAt = Date.now();
  await check('3 the killed node\'s nginx page reconnects to the survivor', async () => {
    await until(`${onA.nick} back on node b`, 15000, async () => (await onA.node()) === 'b');
    await waitLog(onA, 'Connection to node a lost');
    return `${onA.nick} lost node a, said so, and is on node b after ${Date.now() - killedAt} ms`;
  });
  await check('3 a page whose own node died says so and keeps trying', async () => {
    await waitLog(alice, 'Connection to node a lost');
    const text = await alice.page.textContent('#status');
    if (!/lost node a|reconnecting/.test(text)) throw new Error(`status: ${text}`);
    return `alice's status: "${text}"`;
  });
  await check('3 every message after the reconnect arrives everywhere', async () => {
    await say(onA, `${onA.nick} is back, via nginx`);
    await say(bob, 'bob after the failover');
    await say(onB, `${onB.nick} after the failover`);
    for (const [p, text] of [[bob, `${onA.nick}: ${onA.nick} is back`], [onB, `${onA.nick}: ${onA.nick} is back`],
      [onA, 'bob: bob after the failover'], [onB, 'bob: bob after the failover'],
      [onA, `${onB.nick}: ${onB.nick} after the failover`], [bob, `${onB.nick}: ${onB.nick} after the failover`]]) {
      await waitLog(p, text);
    }
    return 'three senders, each message seen by the two other pages';
  });
  await check('3 the dead node\'s users leave the lists within the expiry', async () => {
    // The key outlives the last heartbeat by EXPIRY_MS; the survivors read every
    // HEARTBEAT_MS; the rest is slack for a busy machine.
    const limit = EXPIRY_MS + HEARTBEAT_MS + 2000;
    await until('alice gone from bob\'s and the others\' lists', limit, async () => {
      for (const p of [bob, onA, onB]) {
        if ((await onlineList(p)).includes('alice')) return false;
      }
      return true;
    }).catch(async (e) => { throw new Error(`${e.message}; bob's list: ${(await onlineList(bob)).join(', ')}`); });
    const gone = Date.now() - killedAt;
    await waitLog(bob, 'alice left (node a went away)');
    const list = await onlineList(bob);
    if (list.join() !== 'bob,carol,dave') throw new Error(`bob's list: ${list.join(', ')}`);
    await onA.page.screenshot({ path: screenshot });
    return `alice left every list ${gone} ms after the kill (bound: expiry ${EXPIRY_MS} ms + a ${HEARTBEAT_MS} ms heartbeat); bob's list: ${list.join(', ')}`;
  });

  // 4. Redis restarted.
  await control('START a');
  await check('4 the restarted node takes its page back', async () => {
    await until('alice on node a again', 15000, async () => (await alice.node()) === 'a');
    await busIs(urlA, true);
    await until('alice in bob\'s list again', 5000, async () => (await onlineList(bob)).includes('alice'));
    return 'alice reconnected to node a by herself; bob lists her again';
  });
  await control('STOP_REDIS');
  await check('4 both nodes notice Redis is gone', async () => {
    await busIs(urlA, false);
    await busIs(urlB, false);
    return '/status says bus: false on a and b';
  });
  await check('4 without Redis the local room goes on', async () => {
    await say(bob, 'local only, Redis is down');
    await waitLog(onA, 'bob: local only, Redis is down');
    await waitLog(onB, 'bob: local only, Redis is down');
    await say(alice, 'from a while Redis is down');
    return 'bob\'s message reached carol and dave on node b';
  });
  await control('START_REDIS');
  await check('4 messages cross nodes again once Redis is back', async () => {
    await busIs(urlA, true);
    await busIs(urlB, true);
    await say(alice, 'Redis is back, says a');
    await waitLog(bob, 'alice: Redis is back, says a');
    await waitLog(onA, 'alice: Redis is back, says a');
    await say(bob, 'Redis is back, says b');
    await waitLog(alice, 'bob: Redis is back, says b');
    return 'a -> b and b -> a after the restart';
  });
  await check('4 at-most-once: nothing from the outage is replayed', async () => {
    await sleep(500);
    if (await logHas(bob, 'from a while Redis is down')) throw new Error('bob got alice\'s outage message');
    if (await logHas(alice, 'local only, Redis is down')) throw new Error('alice got bob\'s outage message');
    return 'the messages sent during the outage stayed on their node';
  });
  await check('4 presence is rebuilt after the restart', async () => {
    await until('lists whole again', 5000, async () =>
      (await onlineList(alice)).join() === 'alice,bob,carol,dave' &&
      (await onlineList(bob)).join() === 'alice,bob,carol,dave');
    return 'alice\'s and bob\'s lists: alice, bob, carol, dave';
  });

  const errors = pages.concat([alice, bob]).flatMap((p) => p.errors);
  report(errors.length === 0, 'no page errors', errors.length ? errors.join('; ') : 'none');
  for (const p of pages.concat([alice, bob])) await p.page.close();

  // 5. The bad clients, from Node on the nodes' own addresses, with an observer on the
  //    other node (the pages are closed: the flood below is megabytes for every member).
  const wsUrl = (url, nick) => `${url.replace('http', 'ws')}ws?nick=${nick}`;
  await check('5 an oversized message is closed with 1009', async () => {
    const code = await closeCodeAfter(wsUrl(urlA, 'big'), (ws) => ws.send('x'.repeat(70 * 1024)));
    if (code !== 1009) throw new Error(`close code ${code}`);
    return 'a 70 KiB message got close code 1009 (limit 64 KiB)';
  });
  await check('5 a client too slow for the room is dropped with 1013', async () => {
    const seen = [];
    const observer = new WebSocket(wsUrl(urlA, 'observer'), { origin: urlA.replace(/\/$/, '') });
    observer.on('message', (m) => {
      const event = JSON.parse(String(m));
      if (event.type === 'leave') seen.push(`${event.nick}: ${event.text}`);
    });
    await new Promise((resolve, reject) => { observer.on('open', resolve); observer.on('error', reject); });
    const dropped = () => seen.includes('slowpoke: could not keep up');
    const code = await closeCodeAfter(wsUrl(urlB, 'slowpoke'), (ws) => {
      ws._socket.pause(); // stops reading: the node's queue for it fills up
      const flood = new WebSocket(wsUrl(urlB, 'flood'), { origin: urlB.replace(/\/$/, '') });
      flood.on('open', async () => {
        const big = 'y'.repeat(60 * 1024);
        for (let i = 0; i < 1000 && flood.readyState === WebSocket.OPEN && !dropped(); i++) {
          flood.send(big);
          await sleep(2);
        }
        flood.close();
        ws._socket.resume();
      });
    });
    observer.close();
    if (!dropped()) throw new Error(`the observer on node a saw no drop (leaves: ${seen.join('; ')})`);
    if (code !== 1013) throw new Error(`close code ${code}`);
    return 'slowpoke (b) got close code 1013; the observer on node a saw "could not keep up"';
  });
}

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfc6455-cluster-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 900, height: 400 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
      // Background tabs must keep their timers: the reconnect backoff runs in them.
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
  try {
    await run(context);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(failed ? 1 : 0),
  (e) => {
    console.log(`FAIL cluster in the browser: ${e.message.split('\n')[0]}`);
    process.exit(1);
  },
);
