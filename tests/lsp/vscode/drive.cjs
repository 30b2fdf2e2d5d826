// Drives real VS Code (code-server) in headless Chromium the way a person would:
// types, waits for ghost text, presses Tab, opens the popup, runs Refine from the
// command palette, presses Ctrl+Z, saves. Writes what it saw to $OUT/report.json
// (the pytest test asserts on it) and screenshots to $OUT/*.png.
//
// Environment: URL (code-server with the folder open), FILE (the Python file, on disk), SPACE_FILE
// (a second one, ending in "return a"), WORD_FILE (a third, ending in "retur") and THROUGH_FILE (a fourth, as
// WORD_FILE), REST_FILE (a file longer than the model's window), LOGS (code-server's log folder), OUT (a
// folder), CHROMIUM (the browser binary). NODE_PATH must reach puppeteer-core.

const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const { URL, FILE, SPACE_FILE, WORD_FILE, CRLF_FILE, PAIR_FILE, THROUGH_FILE, REST_FILE, LOGS, OUT, CHROMIUM } = process.env;
const report = { steps: [], statusTexts: [], notifications: [] };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let current = FILE; // the file on disk that the steps read
const read = () => fs.readFileSync(current, "utf8");

/** What the extension's output channel holds so far: the server's log messages among them. */
function serverLog() {
  const files = fs.readdirSync(LOGS, { recursive: true }).filter((name) => name.includes("CodeGen Assistant"));
  return files.map((name) => fs.readFileSync(path.join(LOGS, name), "utf8")).join("\n");
}

async function chord(page, modifiers, key) {
  for (const m of modifiers) await page.keyboard.down(m);
  await page.keyboard.press(key);
  for (const m of modifiers.reverse()) await page.keyboard.up(m);
}

async function until(what, predicate, timeoutMs) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const value = await predicate();
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function statusText(page) {
  return page.$$eval(".statusbar-item", (items) => {
    const ours = items.find((item) => item.id.endsWith("cga.status"));
    return ours ? ours.textContent.trim() : null;
  });
}

async function notifications(page) {
  return page.$$eval(".notification-toast .notification-list-item-message", (items) =>
    items.map((item) => item.textContent.trim()),
  );
}

/** The ghost text VS Code shows, one string per line (nbsp as spaces); empty when none. The cursor's
 * line carries its ghost part inline; the lines after it are drawn in a view zone below. */
async function ghostLines(page) {
  return page.evaluate(() => {
    const text = (element) => element.textContent.replace(/\u00a0/g, " ");
    const byTop = (a, b) => (parseFloat(a.style.top) || 0) - (parseFloat(b.style.top) || 0);
    const first = Array.from(document.querySelectorAll(".monaco-editor .view-lines .view-line"))
      .map((line) => Array.from(line.querySelectorAll(".ghost-text, .ghost-text-decoration")).map(text).join(""))
      .filter((line) => line.length > 0);
    const rest = Array.from(document.querySelectorAll(".monaco-editor .suggest-preview-text .view-line"))
      .sort(byTop)
      .map(text);
    return first.length ? [first[0], ...rest] : [];
  });
}

/** Ctrl+S until the file on disk differs from what it was (VS Code applies edits and saves asynchronously). */
async function saveChanged(page, what) {
  const before = read();
  await until(what, async () => {
    await chord(page, ["Control"], "KeyS");
    await sleep(300);
    return read() !== before;
  }, 300000);
  return before;
}

/** At a person's pace: 120 ms a key is past VS Code's own 50 ms wait before it asks for inline completions and
 * within the server's 150 ms debounce, so each keystroke's request is still waiting when the next key cancels
 * it (typed faster, VS Code asks once at the end, and nothing is ever cancelled). */
async function typeAtEnd(page, text) {
  await chord(page, ["Control"], "End");
  await page.keyboard.type(text, { delay: 120 });
}

/** Quick Open until the file's editor is there: wait for what each step needs, not for time. On a busy
 * machine the workbench can take the Enter before Quick Open has its results, and the file never opens. */
async function openFile(page, name) {
  await until(`an editor for ${name}`, async () => {
    await chord(page, ["Control"], "KeyP");
    const input = await page.waitForSelector(".quick-input-widget input", { visible: true, timeout: 30000 });
    await input.click({ clickCount: 3 });
    await page.keyboard.type(name);
    const listed = await page.waitForFunction(
      (wanted) => Array.from(document.querySelectorAll(".quick-input-list .monaco-list-row"))
        .some((row) => row.textContent.includes(wanted)),
      { timeout: 30000 }, name).then(() => true, () => false);
    if (!listed) {
      await page.keyboard.press("Escape");
      return false;
    }
    await page.keyboard.press("Enter");
    return page.waitForSelector(".monaco-editor .view-lines", { timeout: 15000 }).then(() => true, () => false);
  }, 180000);
}

async function run(page) {
  await page.goto(URL, { waitUntil: "domcontentloaded" });
  await page.waitForSelector(".monaco-workbench", { timeout: 120000 });
  await openFile(page, path.basename(FILE));
  report.steps.push("opened");

  // The status-bar item says the model is loaded ("$(check) cga: NAME" renders as "cga: NAME").
  report.statusReady = await until("the model to be ready", async () => {
    const text = await statusText(page);
    if (text && !report.statusTexts.includes(text)) report.statusTexts.push(text);
    return text && /^cga: /.test(text) ? text : null;
  }, 180000);
  report.steps.push("ready");

  // 1. Ghost text while typing; Tab accepts it exactly as shown.
  await page.click(".monaco-editor .view-lines");
  await typeAtEnd(page, "def fibonacci(n):");
  const enter = Date.now();
  await page.keyboard.press("Enter");
  await until("ghost text", async () => (await ghostLines(page)).length > 0, 60000);
  report.ghostMs = Date.now() - enter;
  await sleep(500);
  report.ghost = await ghostLines(page);
  await page.screenshot({ path: path.join(OUT, "ghost.png") });
  await page.keyboard.press("Tab");
  await saveChanged(page, "the accepted ghost text on disk");
  report.afterTab = read();
  report.steps.push("ghost accepted");

  // 2. The same suggestion through the popup: Ctrl+Z takes the ghost text back, Escape hides the ghost
  // text, Ctrl+Space opens the popup, Enter accepts its item.
  await chord(page, ["Control"], "KeyZ");
  await saveChanged(page, "the ghost text taken back");
  report.afterTabUndo = read();
  await page.keyboard.press("Escape");
  await chord(page, ["Control"], "Space");
  await page.waitForSelector(".suggest-widget.visible .monaco-list-row", { visible: true, timeout: 60000 });
  report.popupLabels = await page.$$eval(".suggest-widget.visible .monaco-list-row", (rows) =>
    rows.map((row) => row.getAttribute("aria-label") || row.textContent),
  );
  await page.screenshot({ path: path.join(OUT, "popup.png") });
  await page.keyboard.press("Enter");
  await saveChanged(page, "the accepted popup item on disk");
  report.afterPopup = read();
  report.steps.push("popup accepted");

  // 3. Refine the function at the cursor from the command palette; Ctrl+Z restores the original.
  await chord(page, ["Control"], "Home");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown"); // inside fibonacci()
  await page.keyboard.press("F1");
  await page.waitForSelector(".quick-input-widget input", { visible: true, timeout: 30000 });
  await page.keyboard.type("CodeGen Assistant: Refine Selection");
  await sleep(1000);
  await page.keyboard.press("Enter");
  await until("the instruction box", async () =>
    page.$$eval(".quick-input-widget", (ws) => ws.some((w) => w.textContent.includes("Refine the selection"))), 30000);
  await page.keyboard.type("Add a docstring.");
  await page.keyboard.press("Enter");
  report.beforeRefine = await saveChanged(page, "the refinement on disk");
  await page.screenshot({ path: path.join(OUT, "refine.png") });
  report.afterRefine = read();
  await chord(page, ["Control"], "KeyZ");
  await saveChanged(page, "the refinement undone on disk");
  report.afterUndo = read();
  report.steps.push("refined and undone");

  // 4. The status-bar item turns completions off and on.
  await page.click(".statusbar-item[id$='cga.status']");
  report.statusOff = await until("the off state", async () => {
    const text = await statusText(page);
    return text && text.includes("off") ? text : null;
  }, 10000);
  await page.click(".statusbar-item[id$='cga.status']");
  report.statusOn = await until("the on state", async () => {
    const text = await statusText(page);
    return text && !text.includes("off") ? text : null;
  }, 10000);
  report.steps.push("toggled");

  // 5. Mid-line, after a typed space and right after a word: ghost text and the popup's single-line item.
  report.space = await midLine(page, SPACE_FILE, " ");
  report.word = await midLine(page, WORD_FILE, "n");
  report.crlf = await midLine(page, CRLF_FILE, "\n"); // Enter, in a file with Windows line breaks
  report.pair = await midLine(page, PAIR_FILE, "("); // VS Code closes the bracket: the cursor is before `)`
  report.steps.push("mid-line");

  // 6. Typing through the ghost text: its first characters typed (word characters only, which VS Code does not
  // pair with a closing one), the rest keeps showing, and Tab saves the line whole.
  await openFile(page, path.basename(THROUGH_FILE));
  current = THROUGH_FILE;
  await page.click(".monaco-editor .view-lines");
  await chord(page, ["Control"], "End");
  await page.keyboard.type("n");
  await until("ghost text to type through", async () => (await ghostLines(page)).length > 0, 60000);
  await sleep(500);
  const through = { ghost: await ghostLines(page) };
  through.typed = (through.ghost[0].match(/^ ?\w{0,2}/) || [""])[0];
  await page.keyboard.type(through.typed, { delay: 120 });
  await sleep(1000);
  through.rest = await ghostLines(page);
  await page.keyboard.press("Tab");
  await saveChanged(page, "the ghost text typed through and accepted");
  through.afterTab = read();
  report.through = through;
  report.steps.push("typed through");

  // 7. The cursor comes to rest in the middle of a long file (Ctrl+Home, then the arrows), and the user types
  // there once the server says it read the code before it.
  await openFile(page, path.basename(REST_FILE));
  current = REST_FILE;
  await page.click(".monaco-editor .view-lines");
  await chord(page, ["Control"], "Home");
  for (let i = 0; i < 180; i++) await page.keyboard.press("ArrowDown");
  await until("the window where the cursor rested to be read", async () =>
    serverLog().includes(`${path.basename(REST_FILE)} where the cursor rested`), 180000);
  const asked = (serverLog().match(/cga: completion:/g) || []).length;
  await page.keyboard.type("x");
  await until("a suggestion where the cursor rested", async () =>
    (serverLog().match(/cga: completion:/g) || []).length > asked, 60000);
  await page.keyboard.press("Escape");
  await saveChanged(page, "the typed character on disk");
  report.rest = { afterType: read() };
  report.steps.push("rested");
}

/** Open file, type `key` at its end, accept the ghost text with Tab, take it back, accept the popup's item
 * that shows the same suggestion; what was on disk after each. */
async function midLine(page, file, key) {
  const seen = {};
  await openFile(page, path.basename(file));
  current = file;
  await page.click(".monaco-editor .view-lines");
  await chord(page, ["Control"], "End");
  await page.keyboard.type(key);
  await until(`ghost text after ${JSON.stringify(key)}`, async () => (await ghostLines(page)).length > 0, 60000);
  await sleep(500);
  seen.ghost = await ghostLines(page);
  await page.keyboard.press("Tab");
  await saveChanged(page, "the accepted ghost text on disk");
  seen.afterTab = read();
  await chord(page, ["Control"], "KeyZ");
  await saveChanged(page, "the ghost text taken back");
  await page.keyboard.press("Escape");
  await chord(page, ["Control"], "Space");
  await page.waitForSelector(".suggest-widget.visible .monaco-list-row", { visible: true, timeout: 60000 });
  // Ours among the editor's word suggestions: walk the list to the row that shows the suggestion.
  const wanted = seen.ghost[0].trim();
  seen.popupLabels = await page.$$eval(".suggest-widget.visible .monaco-list-row", (rows) =>
    rows.map((row) => row.getAttribute("aria-label") || row.textContent));
  for (let i = 0; i < 20; i++) {
    const focused = await page.$eval(".suggest-widget.visible .monaco-list-row.focused",
      (row) => row.getAttribute("aria-label") || row.textContent).catch(() => "");
    if (focused.includes(wanted)) break;
    await page.keyboard.press("ArrowDown");
  }
  await page.screenshot({ path: path.join(OUT, `popup-${path.basename(file)}.png`) });
  await page.keyboard.press("Enter");
  await saveChanged(page, "the popup item on disk");
  seen.afterPopup = read();
  return seen;
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--window-size=1400,900",
      `--user-data-dir=${path.join(OUT, "chromium-profile")}`,
    ],
    defaultViewport: { width: 1400, height: 900 },
  });
  const page = await browser.newPage();
  try {
    await run(page);
    report.ok = true;
  } catch (error) {
    report.ok = false;
    report.error = String(error && error.stack ? error.stack : error);
    await page.screenshot({ path: path.join(OUT, "failure.png") }).catch(() => {});
  } finally {
    report.notifications = await notifications(page).catch(() => []);
    fs.writeFileSync(path.join(OUT, "report.json"), JSON.stringify(report, null, 2));
    await browser.close();
  }
})();
