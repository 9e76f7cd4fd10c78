// The headless Chromium every browser test drives (Debian's, through
// playwright-core): launched with what it needs on a closed, root-run CI
// machine, and a page of a fixed size with a 15 s default timeout.
//
// Environment: CHROMIUM (executable). NODE_PATH must reach playwright-core.

const { chromium } = require("playwright-core");

async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.setDefaultTimeout(15000);
  return { browser, page };
}

module.exports = { launch };
