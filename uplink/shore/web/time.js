// Times: the API speaks RFC 3339 (UTC); the page shows UTC and "12 s ago".

export const parseTs = (ts) => (ts ? Date.parse(ts) : NaN);

export function relative(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** "2026-11-30 10:20:01 UTC" */
export function utc(ms) {
  if (!Number.isFinite(ms)) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** The value of an <input type="datetime-local"> read as UTC, and back. */
export const fromLocalInput = (v) => Date.parse(`${v}Z`);
export const toLocalInput = (ms) => new Date(ms).toISOString().slice(0, 19);

/** Refreshes every <time data-rel> under `root` every few seconds. */
export function keepRelative(root, everyMs = 5000) {
  const tick = () => {
    const now = Date.now();
    for (const el of root.querySelectorAll('time[data-rel]')) {
      el.textContent = relative(Number(el.dataset.rel), now);
    }
  };
  setInterval(tick, everyMs);
  return tick;
}

export function fmtPos(p) {
  if (!p || !Number.isFinite(p.lat) || !Number.isFinite(p.lon)) return 'no position';
  const lat = `${Math.abs(p.lat).toFixed(4)}° ${p.lat >= 0 ? 'N' : 'S'}`;
  const lon = `${Math.abs(p.lon).toFixed(4)}° ${p.lon >= 0 ? 'E' : 'W'}`;
  return `${lat} ${lon}`;
}
