// The shore's public API, as the page uses it. Nothing else is fetched.

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function parse(res) {
  let body = null;
  try { body = await res.json(); } catch { body = null; }
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

async function sendConfig(method, vessel, bodyText, token) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  return parse(await fetch(`${API}/vessels/${enc(vessel)}/config`, { method, headers, body: bodyText }));
}

/** Folds a merge patch into the desired overlay: `{version, desired}`. */
export const patchConfig = (vessel, bodyText, token) => sendConfig('PATCH', vessel, bodyText, token);

/** Replaces the desired overlay whole: `{version, desired}`. */
export const putConfig = (vessel, bodyText, token) => sendConfig('PUT', vessel, bodyText, token);
