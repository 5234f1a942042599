// A page clock running `window.__clockFactor` times faster than real time, installed before any
// other script (context.addInitScript): Date.now() and performance.now() advance that much faster
// and setTimeout / setInterval delays shrink by the same factor. The client's own one-minute
// /v1-batch window then lasts a minute on its clock and 60 / factor s of real time, matching a
// collector whose window is scaled by the same factor. Dates built with `new Date()` keep real time
// (event timestamps only).
(() => {
  const k = window.__clockFactor;
  if (!(k > 0)) return;
  const realNow = Date.now.bind(Date);
  const start = realNow();
  Date.now = () => Math.floor(start + (realNow() - start) * k);
  const perfNow = performance.now.bind(performance);
  const perfStart = perfNow();
  performance.now = () => perfStart + (perfNow() - perfStart) * k;
  const st = window.setTimeout.bind(window);
  const si = window.setInterval.bind(window);
  window.setTimeout = (f, ms = 0, ...args) => st(f, Math.max(0, Number(ms) || 0) / k, ...args);
  window.setInterval = (f, ms = 0, ...args) => si(f, Math.max(0, Number(ms) || 0) / k, ...args);
})();
