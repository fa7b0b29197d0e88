// Signing a page in through the fleet page's own form, shared by the
// browser tests: a new browser context has no session, and the page shows
// only the form until it is signed in.

/**
 * Opens `shore` in `page`, fills the sign-in form with `name` and
 * `password` and waits until the page is signed in. Returns
 * `{name, role}` as the page shows them.
 */
export async function signIn(page, shore, name, password) {
  await page.goto(shore);
  await page.waitForSelector('#sign-in-form', { state: 'visible', timeout: 10_000 });
  await page.fill('#sign-in-name', name);
  await page.fill('#sign-in-password', password);
  await page.click('#sign-in-submit');
  await page.waitForSelector('#main:not([hidden])', { timeout: 10_000 });
  return { name, role: await page.getAttribute('body', 'data-role') };
}
