// Progressive enhancement only: every page works without this file.
// Chapter links seek the player instead of opening the media; copy buttons copy a feed URL.
"use strict";
document.addEventListener("click", (event) => {
  const chapter = event.target.closest("a[data-start]");
  if (chapter) {
    const players = Array.from(document.querySelectorAll("audio.player, video.player"));
    const player = players.find((p) => !p.paused) || players.find((p) => p.currentTime > 0) || players.find((p) => p.tagName === "AUDIO") || players[0];
    if (!player) return;
    event.preventDefault();
    player.currentTime = Number(chapter.dataset.start);
    player.play().catch(() => {});
    return;
  }
  const button = event.target.closest("button[data-copy]");
  if (button) {
    const input = document.getElementById(button.dataset.copy);
    input.select();
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, () => {});
    else if (document.execCommand("copy")) done();
  }
});
for (const button of document.querySelectorAll("button[data-copy]")) button.hidden = false;
