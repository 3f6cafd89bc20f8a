// The tracks list's preview player: one <audio id="preview-player"> for the page, and a
// play button on each row (button.play, its preview's address in data-preview). Pressing
// a row's button plays its preview there, stopping whatever played before; pressing it
// again pauses. The buttons say which one plays (aria-pressed), also after htmx swaps in
// new rows, since the player lives outside the rows.
(function () {
  "use strict";

  function player() {
    return document.getElementById("preview-player");
  }

  // The preview the player holds, as written in the buttons ("" when none).
  function current(audio) {
    return audio.dataset.preview || "";
  }

  function mark() {
    var audio = player();
    if (!audio) {
      return;
    }
    var playing = current(audio) && !audio.paused && !audio.ended ? current(audio) : "";
    var buttons = document.querySelectorAll("button.play");
    for (var i = 0; i < buttons.length; i++) {
      var on = playing !== "" && buttons[i].dataset.preview === playing;
      buttons[i].setAttribute("aria-pressed", on ? "true" : "false");
      buttons[i].classList.toggle("is-playing", on);
    }
  }

  function toggle(button) {
    var audio = player();
    if (!audio) {
      return;
    }
    var preview = button.dataset.preview;
    if (current(audio) === preview && !audio.paused) {
      audio.pause();
      mark(); // at once: the "pause" event comes a moment later
      return;
    }
    if (current(audio) !== preview) {
      audio.pause();
      audio.dataset.preview = preview;
      audio.src = preview;
    }
    var started = audio.play();
    if (started && typeof started.catch === "function") {
      // A preview that cannot be played (gone, offline) leaves its button off.
      started.catch(function () {
        mark();
      });
    }
    mark();
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button.play") : null;
    if (button) {
      event.preventDefault();
      toggle(button);
    }
  });

  function listen() {
    var audio = player();
    if (!audio) {
      return;
    }
    ["play", "playing", "pause", "ended", "emptied", "error"].forEach(function (name) {
      audio.addEventListener(name, mark);
    });
    mark();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", listen);
  } else {
    listen();
  }
  // New rows (htmx swapped the results) show the preview still playing.
  document.body.addEventListener("htmx:afterSettle", mark);
})();
