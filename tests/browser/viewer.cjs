// Drives the trace viewer in headless Chromium (Debian's, through
// playwright-core) for tests/viewer_browser.rs: loads the search page,
// reads the trace list, opens the first trace of `TRACE_ROOT`, opens its
// first span's tags, and saves a screenshot of each page. It prints what it
// saw as one JSON line; the Rust test judges it.
//
// Environment: VIEWER_URL, ARTIFACT_DIR, CHROMIUM (executable), TRACE_ROOT.
// NODE_PATH must reach playwright-core (scripts/install-browser-driver.sh).

const path = require("path");
const { launch } = require("./launch.cjs");

async function main() {
  const url = process.env.VIEWER_URL;
  const artifacts = process.env.ARTIFACT_DIR;
  const root = process.env.TRACE_ROOT;
  const { browser, page } = await launch();
  try {
    await page.goto(url);
    await page.waitForSelector(".trace-result");
    const results = await page.$$eval(".trace-result", (items) =>
      items.map((li) => ({
        root: li.querySelector(".root").textContent,
        spans: li.querySelector(".span-count").textContent,
        href: li.querySelector("a").getAttribute("href"),
      })),
    );
    const title = await page.title();
    await page.screenshot({ path: path.join(artifacts, "viewer-search.png"), fullPage: true });

    const wanted = results.find((r) => r.root === root);
    if (!wanted) throw new Error(`no trace of ${root} in the list`);
    await page.click(`a[href="${wanted.href}"]`);
    await page.waitForSelector(".waterfall details.span");
    const spans = await page.$$eval(".waterfall details.span", (rows) =>
      rows.map((row) => ({
        service: row.querySelector(".service-name").textContent,
        operation: row.querySelector(".operation").textContent,
        bar: row.querySelector(".bar").getAttribute("style"),
      })),
    );
    await page.click(".waterfall details.span:first-of-type summary");
    const tags = await page.$$eval(
      ".waterfall details.span[open] .tags th",
      (cells) => cells.map((th) => th.textContent),
    );
    await page.screenshot({ path: path.join(artifacts, "viewer-trace.png"), fullPage: true });
    console.log(JSON.stringify({ title, results, opened: page.url(), spans, tags }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
