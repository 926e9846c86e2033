/**
 * Puppeteer (mermaid-cli's browser driver, used only by the picture tests)
 * downloads no browser: `npm ci` must work with no internet, and the tests
 * drive the system's Chromium (`apt-get install -y chromium`, /usr/bin/chromium).
 */
module.exports = { skipDownload: true };
