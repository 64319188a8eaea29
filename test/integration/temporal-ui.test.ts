import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createCancelflowClient, type StartedCancellation } from '../../client';
import { freePort } from '../../scripts/ports';
import { startTemporalDevServerOnFreePort, type DevServer } from '../../scripts/temporal';
import { createWorld, eventually, FAST_TIMINGS, PAYBY_APP, type World } from '../helpers/world';

/**
 * The Temporal Web UI, in a real (headless) browser: an operator filters on
 * `CancelState="UNRESOLVED"`, finds the one cancellation that needs them, opens it and reads what it
 * is about (the static summary) and why it is stuck (the current details).
 *
 * The browser is the system's Chromium (Debian's `chromium` package; `.ci/run` installs it), driven
 * by playwright-core, which downloads no browser of its own. Without one the suite is skipped and
 * says so. The suite starts its own Temporal dev server with the Web UI (the run's shared server is
 * headless). `UPDATE_SCREENSHOTS=1` writes the screenshots the README shows into docs/.
 */

function executable(file: string | undefined): file is string {
  if (!file) return false;
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const BROWSER_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];
const BROWSER = [process.env.CHROMIUM_PATH, ...BROWSER_CANDIDATES].find(executable);

if (!BROWSER) {
  console.warn(
    `Temporal UI browser test SKIPPED: no Chromium found ($CHROMIUM_PATH unset or not executable; ` +
      `none of ${BROWSER_CANDIDATES.join(', ')}). Install one (Debian: apt-get install chromium; ` +
      '.ci/run does) to run it.',
  );
}

const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1' ? path.resolve(__dirname, '..', '..', 'docs') : undefined;
/** The Temporal UI is a single-page app that loads its data after the page: wait generously. */
const UI_WAIT_MS = 30_000;

/**
 * A dev server with the Web UI on ports picked now. Either port can be taken before the server binds
 * it (the server then exits): the gRPC port is retried by startTemporalDevServerOnFreePort, the UI
 * port here.
 */
async function startUiServer(dir: string | undefined): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startTemporalDevServerOnFreePort({
        uiPort: await freePort(),
        log: (line) => void process.stderr.write(`[temporal-ui test] ${line}\n`),
        ...(dir ? { logFile: path.join(dir, 'temporal-ui-server.log') } : {}),
      });
    } catch (err) {
      if (attempt >= 3 || !/exited with code/.test(String(err))) throw err;
    }
  }
}

const describeWithBrowser = BROWSER ? describe : describe.skip;

describeWithBrowser('the Temporal Web UI shows the business (headless Chromium)', () => {
  let server: DevServer;
  let world: World;
  let browser: Browser;
  let page: Page;
  let unresolved: StartedCancellation;
  let succeeded: StartedCancellation;
  const previousAddress = process.env.CANCELFLOW_TEST_TEMPORAL_ADDRESS;

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    const dir = process.env.CANCELFLOW_TEST_DIR;
    [server, browser] = await Promise.all([
      startUiServer(dir),
      chromium.launch({ executablePath: BROWSER, headless: true }),
    ]);
    // The world connects to whatever this names at connect time: our server, for this suite only.
    process.env.CANCELFLOW_TEST_TEMPORAL_ADDRESS = server.address;
    world = await createWorld();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(UI_WAIT_MS);

    // Stuck: every PayBy answer is signed with the wrong key, so never believed. UNRESOLVED after
    // 1.5 s, then held for a late answer long past this suite (terminated in afterAll).
    world.payby.setOrder('UI-stuck', { status: 'CREATED', badSignature: true });
    world.payby.setOrder('UI-done', { status: 'CREATED' });
    const stuckClient = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 1_500, unresolvedHoldMs: 10 * 60_000 },
    });
    [unresolved, succeeded] = await Promise.all([
      stuckClient.startCancellation({ ...PAYBY_APP, mchOrderNo: 'UI-stuck' }),
      world.cancelflow.startCancellation({ ...PAYBY_APP, mchOrderNo: 'UI-done' }),
    ]);
    expect(await world.cancelflow.waitForResult(succeeded.workflowId)).toMatchObject({ status: 'SUCCEEDED' });
    // Visibility is eventually consistent: the lists the UI asks for must already hold both.
    const listed = async (query: string): Promise<string[]> => {
      const ids: string[] = [];
      for await (const w of world.temporal.client.workflow.list({ query })) ids.push(w.workflowId);
      return ids;
    };
    await eventually(
      async () =>
        (await listed('CancelState="UNRESOLVED"')).includes(unresolved.workflowId) &&
        (await listed('CancelState="SUCCEEDED"')).includes(succeeded.workflowId),
      30_000,
    );
    // The UI server comes up beside the frontend; make sure it answers before the browser asks.
    await eventually(async () => {
      const res = await fetch(`${server.uiUrl!}/namespaces/default/workflows`).catch(() => undefined);
      return res?.ok ? true : undefined;
    }, UI_WAIT_MS);
  }, 180_000);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    if (unresolved && world)
      await world.temporal.client.workflow
        .getHandle(unresolved.workflowId)
        .terminate('temporal-ui test done')
        .catch(() => undefined);
    await world?.close();
    await server?.stop();
    if (previousAddress === undefined) delete process.env.CANCELFLOW_TEST_TEMPORAL_ADDRESS;
    else process.env.CANCELFLOW_TEST_TEMPORAL_ADDRESS = previousAddress;
  }, 60_000);

  /** The UI scrolls inside its own panes (a full-page shot shows no more): `height` makes room. */
  async function screenshot(name: string, height = 900): Promise<void> {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.setViewportSize({ width: 1440, height });
    await page.screenshot({ path: path.join(SCREENSHOTS, name) });
  }

  /**
   * The text of one User Metadata section once it shows `expected`. The UI renders each section's
   * markdown in its own iframe, under an <h3> with the section's name.
   */
  async function section(heading: string, expected: string): Promise<string> {
    const frame = page
      .locator(`xpath=//h3[normalize-space()="${heading}"]/ancestor::div[.//iframe][1]//iframe`)
      .first()
      .contentFrame();
    await frame.getByText(expected, { exact: false }).first().waitFor({ timeout: UI_WAIT_MS });
    return (await frame.locator('body').innerText()).trim();
  }

  test('filter CancelState="UNRESOLVED", open the one listed, read its summary and why it is stuck', async () => {
    const query = 'CancelState="UNRESOLVED"';
    await page.goto(`${server.uiUrl!}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);

    // The stuck cancellation is listed, the succeeded one is not.
    const stuckLink = page.locator(`a:has-text("${unresolved.workflowId}")`).first();
    await stuckLink.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    await expect(page.getByText(succeeded.workflowId, { exact: false }).count()).resolves.toBe(0);
    await screenshot('temporal-ui-unresolved-list.png');

    // Opened, its User Metadata tab says what it is about (the static summary, set at start) and
    // where it stands and why (the current details, which the UI asks the running workflow for).
    await stuckLink.click();
    await page.waitForURL(/\/workflows\/[^/]+\/[^/]+\/history/, { timeout: UI_WAIT_MS });
    await page.getByTestId('user-metadata-tab').click();
    await page.waitForURL(/\/user-metadata$/, { timeout: UI_WAIT_MS });
    const summary = await section('Summary', 'cancel mch:UI-stuck');
    expect(summary).toBe(
      `cancel mch:UI-stuck at payby (payby-test) for ${PAYBY_APP.mchNo}/${PAYBY_APP.appId}`,
    );
    const details = await section('Details', 'mchOrderNo UI-stuck');
    expect(details).toContain('provider payby, account payby-test');
    const current = await section('Current Details', 'not terminal after');
    expect(current).toContain('UNRESOLVED');
    expect(current).toMatch(/why: not terminal after 1500 ms: .*signature invalid/);
    expect(current).toContain(unresolved.cancelOrderId);
    await screenshot('temporal-ui-unresolved-workflow.png', 1080);
  }, 120_000);
});
