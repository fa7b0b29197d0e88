// The shore's public API, as the page uses it. Nothing else is fetched.
// Signed in, the browser sends the session cookie (HttpOnly: this code
// never sees it) with every request, images and the event stream
// included; every change also carries the session's CSRF token, which the
// sign-in answer gives and which lives in this module's memory only. A
// 401 anywhere means the session ended: `onSignedOut` is called.

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrf = null;
let signedOut = () => {};

/** Called once whenever an answer says the session is gone (401). */
export function onSignedOut(fn) { signedOut = fn; }

async function parse(res) {
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (res.status === 401) signedOut();
  if (!res.ok) {
    const why = body && typeof body.error === 'string' ? body.error : res.statusText;
    throw new ApiError(res.status, `${res.status}: ${why}`);
  }
  return body;
}

export async function getJSON(path) {
  return parse(await fetch(API + path, { headers: { Accept: 'application/json' } }));
}

export const vessels = () => getJSON('/vessels');

const enc = encodeURIComponent;

/** Thumbnails of one camera in [from, to) (Unix ms), following the cursor up to `max`. */
export async function thumbs(vessel, camera, fromMs, toMs, max = 5000) {
  const out = [];
  let cursor = null;
  while (out.length < max) {
    const q = new URLSearchParams({ camera, from: String(fromMs), to: String(toMs), limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const page = await getJSON(`/vessels/${enc(vessel)}/thumbs?${q}`);
    out.push(...page.thumbs);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out.slice(0, max);
}

export const track = (vessel, fromMs, toMs) =>
  getJSON(`/vessels/${enc(vessel)}/track?from=${fromMs}&to=${toMs}`);

/** The config state, or null when none was ever pushed or acked. */
export async function config(vessel) {
  try {
    return await getJSON(`/vessels/${enc(vessel)}/config`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/** A change: JSON in and out, with the CSRF token. */
async function send(method, path, bodyText) {
  const headers = { Accept: 'application/json' };
  if (bodyText !== undefined) headers['Content-Type'] = 'application/json';
  if (csrf) headers['X-Seaframe-CSRF'] = csrf;
  return parse(await fetch(API + path, { method, headers, body: bodyText }));
}

/** Folds a merge patch into the desired overlay: `{version, desired}`. */
export const patchConfig = (vessel, bodyText) => send('PATCH', `/vessels/${enc(vessel)}/config`, bodyText);

/** Replaces the desired overlay whole: `{version, desired}`. */
export const putConfig = (vessel, bodyText) => send('PUT', `/vessels/${enc(vessel)}/config`, bodyText);

/** Who is signed in (`{name, role, csrf}`), or null when nobody is. */
export async function session() {
  const res = await fetch(`${API}/session`, { headers: { Accept: 'application/json' } });
  if (res.status === 401) return null;
  const me = await parse(res);
  csrf = me.csrf || null;
  return me;
}

/** Signs in (the answer sets the cookie): `{name, role, csrf}`. */
export async function signIn(name, password) {
  const me = await send('POST', '/session', JSON.stringify({ name, password }));
  csrf = me.csrf;
  return me;
}

/** Signs out: the session ends on the shore and the cookie is cleared. */
export async function signOut() {
  try {
    await send('DELETE', '/session');
  } finally {
    csrf = null;
  }
}

const RANK = { viewer: 0, operator: 1, admin: 2 };
/** Whether `role` may do what `need` may. */
export const can = (role, need) => (RANK[role] ?? -1) >= RANK[need];
