// Drives the trace viewer's comparison and critical path in headless
// Chromium (through playwright-core) for tests/viewer_browser.rs: on the
// search page it ticks traces A and B and presses Compare, reads the
// compare page's rows, follows B's link to its trace page, reads the
// critical path drawn over the bars, unticks "Critical path" and checks
// the overlay is gone. A screenshot of each page goes to ARTIFACT_DIR. It
// prints what it saw as one JSON line; the Rust test judges it.
//
// Environment: VIEWER_URL (the search page, service chosen), ARTIFACT_DIR,
// CHROMIUM, TRACE_A, TRACE_B. NODE_PATH must reach playwright-core.

const path = require("path");
const { launch } = require("./launch.cjs");

async function main() {
  const artifacts = process.env.ARTIFACT_DIR;
  const [a, b] = [process.env.TRACE_A, process.env.TRACE_B];
  const { browser, page } = await launch();
  try {
    await page.goto(process.env.VIEWER_URL);
    await page.waitForSelector(".trace-result");
    for (const id of [a, b]) {
      await page.check(`.trace-result input[name="trace"][value="${id}"]`);
    }
    await Promise.all([page.waitForNavigation(), page.click("#compare-form button")]);
    await page.waitForSelector(".compare-grid .row");
    const compareUrl = page.url();
    const sides = await page.$$eval(".side .trace-id", (ids) => ids.map((e) => e.textContent));
    const rows = await page.$$eval(".compare-grid .row", (rows) =>
      rows.map((row) => ({
        change: row.className.replace("row ", ""),
        sign: row.querySelector(".sign").textContent,
        label:
          row.querySelector(".service-name").textContent +
          " " +
          row.querySelector(".operation").textContent,
        a: !!row.querySelector(".lane.a .bar"),
        b: !!row.querySelector(".lane.b .bar"),
      })),
    );
    const badges = await page.$$eval(".changes .badge", (bs) => bs.map((e) => e.textContent));
    await page.screenshot({ path: path.join(artifacts, "viewer-compare.png"), fullPage: true });

    // From the comparison to TRACE_B's own page: its critical path.
    await Promise.all([page.waitForNavigation(), page.click(`.side a.root[href="/trace/${b}"]`)]);
    await page.waitForSelector(".waterfall details.span");
    const tracePage = page.url();
    const critical = await page.$$eval(".waterfall details.span", (spans) =>
      spans.map((span) => ({
        label:
          span.querySelector(".service-name").textContent +
          " " +
          span.querySelector(".operation").textContent,
        marks: [...span.querySelectorAll(".critical")].map((m) => m.getAttribute("style")),
        shown: [...span.querySelectorAll(".critical")].some(
          (m) => getComputedStyle(m).display !== "none" && m.getBoundingClientRect().width > 0,
        ),
      })),
    );
    const shares = await page.$$eval(".critical-summary .cp-share", (s) =>
      s.map((e) => e.textContent),
    );
    await page.screenshot({
      path: path.join(artifacts, "viewer-critical-path.png"),
      fullPage: true,
    });
    await page.uncheck("#show-critical");
    const hiddenAfterToggle = await page.$$eval(".critical", (marks) =>
      marks.every((m) => getComputedStyle(m).display === "none"),
    );
    console.log(
      JSON.stringify({ compareUrl, sides, rows, badges, tracePage, critical, shares, hiddenAfterToggle }),
    );
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
