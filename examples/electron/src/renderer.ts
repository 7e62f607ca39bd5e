/**
 * The page: pick a video, type a query, watch the answer stream in. Plain DOM, no framework.
 * A script, not a module (no import/export), so it runs as is under the page's strict CSP;
 * `window.timelens` is typed by the global declaration in api.ts.
 */

(() => {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const videoLabel = $<HTMLSpanElement>("video");
  const query = $<HTMLInputElement>("query");
  const answer = $<HTMLPreElement>("answer");
  const status = $<HTMLDivElement>("status");
  const groundButton = $<HTMLButtonElement>("ground");
  let video: string | null = null;

  window.timelens.onToken((text) => {
    answer.textContent += text;
  });
  window.timelens.onProgress((stage, done, total) => {
    status.textContent = `${stage} ${done}/${total}`;
  });

  $<HTMLButtonElement>("pick").addEventListener("click", async () => {
    video = await window.timelens.pickVideo();
    videoLabel.textContent = video ?? "no video";
  });

  $<HTMLButtonElement>("cancel").addEventListener("click", () => window.timelens.cancel());

  groundButton.addEventListener("click", async () => {
    if (!video || !query.value.trim()) {
      status.textContent = "pick a video and type a query";
      return;
    }
    answer.textContent = "";
    groundButton.disabled = true;
    try {
      const r = await window.timelens.ground({ video, query: query.value });
      const span =
        r.start !== null && r.end !== null ? `${r.start.toFixed(1)} - ${r.end.toFixed(1)} s` : "no time in the answer";
      status.textContent = `${span} in ${(r.ms / 1000).toFixed(1)} s; ${r.device}`;
    } catch (e) {
      status.textContent = (e as Error).message;
    } finally {
      groundButton.disabled = false;
    }
  });
})();
