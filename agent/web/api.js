// Calls to the agent's own API. The session cookie (after sign-in) rides
// along with every request, so images and videos load by plain URLs.

/** The session has ended (or never began): the page asks for the token. */
export class SignInNeeded extends Error {}

/** `path?params` with empty values left out. */
export function url(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function answer(r) {
  if (r.status === 401) throw new SignInNeeded('sign-in needed');
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error) || `HTTP ${r.status}`);
  return body;
}

/** GET a JSON answer. */
export async function getJSON(path, params) {
  return answer(await fetch(url(path, params), { headers: { accept: 'application/json' } }));
}

/** GET a JSON answer, or `null` for a 404 (nothing there). */
export async function getOrNull(path, params) {
  const r = await fetch(url(path, params), { headers: { accept: 'application/json' } });
  return r.status === 404 ? null : answer(r);
}

/** Exchanges the token for the session cookie. */
export async function signIn(token) {
  return answer(await fetch('/api/v1/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  }));
}

export async function signOut() {
  return answer(await fetch('/api/v1/session', { method: 'DELETE' }));
}

/** Unix ms → `HH:MM:SS` (UTC). */
export function hms(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `YYYY-MM-DD` + `HH:MM:SS` (UTC) → Unix ms, or NaN. */
export function dayTime(day, time) {
  if (!/^\d{2}:\d{2}:\d{2}$/.test(time)) return NaN;
  return Date.parse(`${day}T${time}Z`);
}

/** Keeps calling `fn` every `ms` while `active()` says so and the page is seen. */
export function every(ms, active, fn) {
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden || !active()) return;
    busy = true;
    try { await fn(); } finally { busy = false; }
  };
  setInterval(tick, ms);
  return tick;
}
