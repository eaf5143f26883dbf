// The draw-a-digit page of `imgcls serve` in a real browser: Playwright (playwright-core,
// installed by scripts/setup.sh --browser) drives Debian's headless Chromium. Starts the
// server with the fixture model, draws a 7 stroke by stroke with the mouse, waits for the
// page's prediction and checks it and the bars, saves a screenshot, clears (the canvas,
// the digit and the bars reset), draws a 1 (checking that a prediction shows up while the
// stroke is still under way), checks it, draws a 1 by touch on a phone-sized page, and
// stops the server (exit 0).
//   node serve_page_test.js IMGCLS_BINARY MODEL ARTIFACTS_DIR
// Fails, never skips, when node, playwright-core or Chromium is missing. Every wait is
// bounded: each step by kTimeoutMs, the server's exit on SIGTERM by kStopMs (then SIGKILL),
// and the whole test by kWholeTestMs (under CTest's TIMEOUT), past which it kills the
// server and fails.
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");

const kChromium = "/usr/bin/chromium";
const kTimeoutMs = 30000;
const kStopMs = 10000;
const kWholeTestMs = 100000;

function fail(message) {
  console.error("serve_page_test: FAILED: " + message);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Starts `imgcls serve MODEL --port 0`; resolves with {child, url} once it prints its address.
function startServer(binary, model) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ["serve", model, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    const timer = setTimeout(() => reject(new Error("no 'serving' line in 30 s: " + out + err)), kTimeoutMs);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/serving .* on (http:\/\/[\d.]+:\d+)/);
      if (match) { clearTimeout(timer); resolve({ child, url: match[1], output: () => out + err }); }
    });
    child.stderr.on("data", (chunk) => { err += chunk; });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`imgcls serve exited (${code}): ${err}`)); });
  });
}

// Sends SIGTERM; resolves with how the server ended, or {timedOut} after kStopMs (then it
// is killed).
function stopServer(server) {
  return new Promise((resolve) => {
    server.child.removeAllListeners("exit");
    const timer = setTimeout(() => {
      server.child.kill("SIGKILL");
      resolve({ code: null, signal: null, timedOut: true });
    }, kStopMs);
    server.child.on("exit", (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
    server.child.kill("SIGTERM");
  });
}

// Draws a polyline given in canvas pixels (0..280) as one stroke: press, move through
// every point in small steps (so the page sees many pointermove events), release.
async function stroke(page, canvasBox, points) {
  const at = (p) => [canvasBox.x + p[0] * canvasBox.width / 280, canvasBox.y + p[1] * canvasBox.height / 280];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 12 });
  await page.mouse.up();
}

async function waitForPrediction(page) {
  await page.waitForSelector('#result[data-state="idle"]', { timeout: kTimeoutMs });
  return page.evaluate(() => ({
    digit: document.getElementById("digit").textContent,
    best: [...document.querySelectorAll(".bar.best .name")].map((e) => e.textContent),
    values: [...document.querySelectorAll(".bar .value")].map((e) => parseFloat(e.textContent)),
    status: document.getElementById("status").textContent,
  }));
}

async function main() {
  const [binary, model, artifacts] = process.argv.slice(2);
  if (!binary || !model || !artifacts) fail("usage: node serve_page_test.js IMGCLS_BINARY MODEL ARTIFACTS_DIR");
  let playwright;
  try {
    playwright = require("playwright-core");
  } catch (error) {
    fail("playwright-core is not installed (run scripts/setup.sh --browser): " + error.message);
  }
  if (!fs.existsSync(kChromium)) fail(kChromium + " is missing (run scripts/setup.sh --browser)");
  fs.mkdirSync(artifacts, { recursive: true });

  const server = await startServer(binary, model);
  setTimeout(() => {
    server.child.kill("SIGKILL");
    fail(`the test did not finish in ${kWholeTestMs / 1000} s`);
  }, kWholeTestMs).unref();
  const browser = await playwright.chromium.launch({ executablePath: kChromium, headless: true, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 620 } });
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(server.url, { timeout: kTimeoutMs });
    await page.waitForFunction(() => document.querySelectorAll("#bars .bar").length === 10, null, { timeout: kTimeoutMs });
    const box = await page.locator("#pad").boundingBox();

    // A 7: the top bar, then the long diagonal down to the left.
    await stroke(page, box, [[70, 62], [140, 58], [212, 60], [170, 140], [128, 232]]);
    const seven = await waitForPrediction(page);
    check(seven.digit === "7", `drew a 7, the page shows '${seven.digit}' (${seven.status})`);
    check(seven.best.length === 1 && seven.best[0] === "7", "the 7's bar is not the highlighted one: " + seven.best);
    const total = seven.values.reduce((a, b) => a + b, 0);
    check(seven.values.length === 10 && Math.abs(total - 100) < 1, "the bars do not add up to 100%: " + seven.values);
    const screenshot = path.join(artifacts, "serve_page.png");
    await page.screenshot({ path: screenshot, fullPage: true });

    // Clear: blank canvas, no digit, empty bars.
    await page.click("#clear");
    const cleared = await page.evaluate(() => {
      const pad = document.getElementById("pad");
      const pixels = pad.getContext("2d").getImageData(0, 0, pad.width, pad.height).data;
      return {
        state: document.getElementById("result").dataset.state,
        digit: document.getElementById("digit").textContent,
        best: document.querySelectorAll(".bar.best").length,
        filled: [...document.querySelectorAll(".bar .fill")].filter((e) => parseFloat(e.style.width) > 0).length,
        blank: pixels.every((v) => v === 255),
      };
    });
    check(cleared.state === "empty" && cleared.digit === "\u2013", "Clear left the prediction: " + JSON.stringify(cleared));
    check(cleared.best === 0 && cleared.filled === 0, "Clear left bars filled: " + JSON.stringify(cleared));
    check(cleared.blank, "Clear left ink on the canvas");

    // A 1: one slightly slanted vertical stroke, drawn after the Clear. Halfway, with the
    // button still down, the page must already show a prediction (updates while drawing).
    const at = (x, y) => [box.x + x * box.width / 280, box.y + y * box.height / 280];
    await page.mouse.move(...at(146, 48));
    await page.mouse.down();
    await page.mouse.move(...at(140, 140), { steps: 12 });
    await page.waitForFunction(() => document.getElementById("digit").textContent !== "\u2013", null, { timeout: kTimeoutMs });
    check(await page.evaluate(() => document.getElementById("result").dataset.state) === "busy",
          "the page claims to be idle while a stroke is under way");
    await page.mouse.move(...at(134, 234), { steps: 12 });
    await page.mouse.up();
    const one = await waitForPrediction(page);
    check(one.digit === "1", `drew a 1 after Clear, the page shows '${one.digit}' (${one.status})`);
    await page.screenshot({ path: path.join(artifacts, "serve_page_1.png"), fullPage: true });

    // Touch: a phone-sized page, a 1 drawn with a finger (CDP touch events: start, moves, end).
    const phone = await browser.newContext({ viewport: { width: 390, height: 800 }, hasTouch: true, isMobile: true });
    const touchPage = await phone.newPage();
    touchPage.on("pageerror", (error) => pageErrors.push(error.message));
    await touchPage.goto(server.url, { timeout: kTimeoutMs });
    await touchPage.waitForFunction(() => document.querySelectorAll("#bars .bar").length === 10, null, { timeout: kTimeoutMs });
    const touchBox = await touchPage.locator("#pad").boundingBox();
    const cdp = await phone.newCDPSession(touchPage);
    const finger = (x, y) => [{ x: touchBox.x + x * touchBox.width / 280, y: touchBox.y + y * touchBox.height / 280 }];
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: finger(140, 45) });
    for (let y = 55; y <= 235; y += 10)
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: finger(140 - (y - 45) / 30, y) });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    const touched = await waitForPrediction(touchPage);
    check(touched.digit === "1", `drew a 1 by touch, the page shows '${touched.digit}' (${touched.status})`);
    await touchPage.screenshot({ path: path.join(artifacts, "serve_page_touch.png"), fullPage: true });
    await phone.close();
    check(pageErrors.length === 0, "errors in the page: " + pageErrors.join("; "));
    console.log(`serve_page_test: passed (7 and 1 by mouse, 1 by touch, Clear); screenshot ${screenshot}`);
  } finally {
    await browser.close();
    const exit = await stopServer(server);
    if (exit.timedOut) fail(`imgcls serve did not exit within ${kStopMs / 1000} s of SIGTERM: ${server.output()}`);
    if (exit.code !== 0) fail(`imgcls serve exited with ${exit.code} (${exit.signal}) on SIGTERM: ${server.output()}`);
  }
}

main().catch((error) => fail(error.stack || String(error)));
