// Live view: every camera's latest frame and its state (with the reason
// when it is down), refreshed every few seconds while the tab is seen.

import { getJSON, getOrNull } from './api.js';

/** A camera's state as words: `ok`, or `retrying: connection refused`. */
export function stateText(state) {
  if (typeof state === 'string') return state;
  const parts = [state.state, state.error].filter(Boolean);
  return parts.join(': ');
}

/** A time far enough ahead that the frame nearest to it is the newest. */
const LATER_MS = 24 * 3600 * 1000;

export class Live {
  constructor(grid, guard) {
    this.grid = grid;
    this.guard = guard;
    this.cards = new Map();
    this.refreshMs = 2000;
  }

  shown() { this.refresh().catch(this.guard); }

  card(id) {
    let card = this.cards.get(id);
    if (!card) {
      card = document.createElement('figure');
      card.dataset.camera = id;
      card.innerHTML = '<img alt=""><figcaption><b></b> · <span class="state"></span> · <time>no frame yet</time></figcaption>';
      card.querySelector('img').alt = `latest frame of ${id}`;
      card.querySelector('b').textContent = id;
      this.grid.append(card);
      this.cards.set(id, card);
    }
    return card;
  }

  async refresh() {
    const { cameras } = await getJSON('/api/v1/cameras');
    const at = Date.now() + LATER_MS;
    await Promise.all(cameras.map(async (c) => {
      const card = this.card(c.id);
      const state = card.querySelector('.state');
      const words = stateText(c.state);
      state.textContent = words;
      state.className = `state ${words === 'ok' ? 'state-ok' : 'state-down'}`;
      const frame = await getOrNull('/api/v1/frames/nearest', { camera: c.id, at });
      if (frame && String(frame.id) !== card.dataset.frameId) {
        card.dataset.frameId = String(frame.id);
        card.querySelector('img').src = frame.image_url;
        card.querySelector('time').textContent = `${frame.ts.slice(0, 19).replace('T', ' ')} UTC`;
      }
    }));
  }
}
