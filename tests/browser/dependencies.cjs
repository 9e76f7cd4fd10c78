// Drives the viewer's dependency graph in headless Chromium (Debian's,
// through playwright-core) for tests/viewer_browser.rs: opens the search
// page, follows the nav link to /dependencies, reads the graph's nodes and
// edges (as drawn: their on-screen boxes too) and the table, changes the
// look-back, and saves a screenshot. It prints what it saw as one JSON
// line; the Rust test judges it.
//
// Environment: VIEWER_URL, ARTIFACT_DIR, CHROMIUM (executable).
// NODE_PATH must reach playwright-core (scripts/install-browser-driver.sh).

const path = require("path");
const { launch } = require("./launch.cjs");

async function main() {
  const { browser, page } = await launch();
  try {
    await page.goto(process.env.VIEWER_URL);
    await page.click('nav a[href="/dependencies"]');
    await page.waitForSelector("svg.graph .node");
    const nodes = await page.$$eval("svg.graph .node", (gs) =>
      gs.map((g) => {
        const box = g.getBoundingClientRect();
        return { service: g.dataset.service, width: box.width, height: box.height };
      }),
    );
    const edges = await page.$$eval("svg.graph .edge", (gs) =>
      gs.map((g) => ({
        parent: g.dataset.parent,
        child: g.dataset.child,
        calls: g.querySelector("text").textContent,
        drawn: g.querySelector("path").getTotalLength() > 0,
      })),
    );
    const rows = await page.$$eval("table.calls tbody tr", (trs) =>
      trs.map((tr) => Array.from(tr.children).map((td) => td.textContent)),
    );
    await page.screenshot({
      path: path.join(process.env.ARTIFACT_DIR, "viewer-dependencies.png"),
      fullPage: true,
    });
    await page.selectOption('select[name="lookback"]', "1");
    await page.waitForURL(/lookback=1$/);
    const lookback = await page.$eval('select[name="lookback"]', (s) => s.value);
    console.log(JSON.stringify({ url: page.url(), nodes, edges, rows, lookback }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
