// The live feed: one EventSource on /api/v1/events. The browser reconnects
// by itself; after a reconnect or a `resync` the caller rereads /vessels
// (events may have been missed).

export function connect(handlers) {
  const { onThumb, onVessel, onConfig, onResync, onState } = handlers;
  const es = new EventSource('/api/v1/events');
  let connectedBefore = false;
  const json = (fn) => (e) => {
    let data;
    try { data = JSON.parse(e.data); } catch { return; }
    fn(data);
  };
  es.addEventListener('ready', () => {
    onState('live');
    if (connectedBefore) onResync();
    connectedBefore = true;
  });
  es.addEventListener('thumb', json(onThumb));
  es.addEventListener('vessel', json(onVessel));
  es.addEventListener('config', json(onConfig));
  es.addEventListener('resync', () => onResync());
  es.addEventListener('error', () => onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
  return es;
}
