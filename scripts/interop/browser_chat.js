// Headless Chromium on the chat example, for scripts/interop.sh: two pages load the chat
// from our server, join, and talk through the browser's own WebSocket object; a screenshot of
// one page is saved. Prints `PASS case: detail` or `FAIL case: why`.
//
// Usage: node browser_chat.js http://127.0.0.1:PORT/ /usr/bin/chromium OUT.png
//        (NODE_PATH must find `playwright-core`). With INTEROP_DEFLATE=1 the chat server is
//        built with the `deflate` feature, and the page must have negotiated permessage-deflate
//        (Chromium always offers it); without, it must have negotiated nothing.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, executablePath, screenshot] = process.argv.slice(2);
const DEFLATE = process.env.INTEROP_DEFLATE === '1';
let failed = false;
const report = (ok, name, detail) => {
  failed ||= !ok;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
};

async function join(context, nick) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  // Record every WebSocket the page opens, as Chromium's DevTools see it.
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(url);
  await page.fill('#nick', nick);
  await page.click('#join button');
  await page.waitForSelector(`#status:has-text("connected as ${nick}")`, { timeout: 10000 });
  return { page, errors, sockets };
}

async function run() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfc6455-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 720, height: 360 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', // containers often have a tiny /dev/shm
    ],
  });
  try {
    const alice = await join(context, 'alice');
    const bob = await join(context, 'bob');
    report(true, 'page loads over HTTP and both pages join',
      `${alice.page.url()} -> ${alice.sockets[0]} (${await context.browser()?.version() ?? 'chromium'})`);

    await alice.page.waitForSelector('#log li:has-text("bob joined")', { timeout: 5000 });
    report(true, 'join notice', 'alice saw "bob joined"');

    await alice.page.fill('#text', 'Hello Bob! This went through rfc6455 ✓');
    await alice.page.press('#text', 'Enter');
    await bob.page.waitForSelector('#log li:has-text("alice: Hello Bob! This went through rfc6455 ✓")', { timeout: 5000 });
    report(true, 'message from one page shows in the other', "bob's page shows alice's message");

    await bob.page.fill('#text', 'Hi Alice! No polling here, just frames.');
    await bob.page.press('#text', 'Enter');
    await alice.page.waitForSelector('#log li:has-text("bob: Hi Alice! No polling")', { timeout: 5000 });
    const isNative = await alice.page.evaluate(() => ws instanceof WebSocket && ws.readyState === WebSocket.OPEN && ws.url);
    report(Boolean(isNative), "the browser's own WebSocket", `window.ws is a native WebSocket at ${isNative}`);

    const extensions = await alice.page.evaluate(() => ws.extensions);
    report(DEFLATE ? extensions.startsWith('permessage-deflate') : extensions === '',
      DEFLATE ? 'with permessage-deflate' : 'without permessage-deflate',
      `Sec-WebSocket-Extensions: "${extensions}"`);

    const carol = await join(context, 'carol');
    await carol.page.close();
    await alice.page.waitForSelector('#log li:has-text("carol left")', { timeout: 5000 });
    report(true, 'leave notice', 'a closed tab is announced as gone');

    await alice.page.fill('#text', 'See you!');
    await alice.page.press('#text', 'Enter');
    await bob.page.waitForSelector('#log li:has-text("alice: See you!")', { timeout: 5000 });
    await alice.page.screenshot({ path: screenshot });
    report(fs.statSync(screenshot).size > 0, 'screenshot', screenshot);

    const errors = [...alice.errors, ...bob.errors];
    report(errors.length === 0, 'no page errors', errors.length ? errors.join('; ') : 'console clean');
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

run().then(
  () => process.exit(failed ? 1 : 0),
  (e) => {
    console.log(`FAIL chat in the browser: ${e.message.split('\n')[0]}`);
    process.exit(1);
  },
);
