// Dig mode (/dig): one track's Beatport preview after another, driven by the keyboard.
// The page holds the filter's Beatport ids in order (#dig[data-ids]); each track's card
// comes from GET /dig/track/{id} (JSON, kept once fetched), and a decision goes to
// POST /dig/track/{id}. Two <audio preload="auto"> take turns: while one plays, the other
// already loads the next track's preview, so moving on never waits for the network.
// Keys: Space play/pause, → next, ← previous, x skip, 1-9 keep into that crate.
(function () {
  "use strict";

  var root = document.getElementById("dig");
  if (!root) {
    return;
  }
  var ids = root.dataset.ids ? root.dataset.ids.split(",") : [];
  var audios = [document.getElementById("dig-audio-a"), document.getElementById("dig-audio-b")];
  var current = 0; // which audio plays the shown track
  var index = 0;
  var cards = {}; // Beatport id -> Promise of its card
  var decisions = {}; // Beatport id -> "kept" | "skipped"
  var wantPlaying = false;
  var finished = false;
  var saving = Promise.resolve(); // the decisions posted so far, in order

  function el(id) {
    return document.getElementById(id);
  }

  function card(position) {
    var id = ids[position];
    if (!cards[id]) {
      cards[id] = fetch("/dig/track/" + id, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("The track " + id + " could not be loaded.");
        }
        return response.json();
      });
      cards[id].catch(function () {
        delete cards[id];
      });
    }
    return cards[id];
  }

  function keptCount() {
    var count = 0;
    for (var id in decisions) {
      if (decisions[id] === "kept") {
        count += 1;
      }
    }
    return count;
  }

  function progress() {
    var words = finished
      ? "Done: all " + ids.length + " heard, " + keptCount() + " kept"
      : index + 1 + " of " + ids.length + ", " + keptCount() + " kept";
    el("dig-progress").textContent = words;
  }

  function showDecision(id) {
    var decision = decisions[id];
    var words = decision === "kept" ? "Kept" : decision === "skipped" ? "Skipped" : "";
    el("dig-decision").textContent = words;
    root.dataset.decision = decision || "";
  }

  function render(data) {
    el("dig-title").textContent = data.title + (data.mix ? " (" + data.mix + ")" : "");
    el("dig-artists").textContent =
      data.artists + (data.remixers ? " · remixed by " + data.remixers : "");
    var facts = [data.label, data.genre, data.bpm ? data.bpm + " BPM" : null,
      data.camelot ? data.camelot + (data.key ? " · " + data.key : "") : null,
      data.length, data.released ? "released " + data.released : null];
    el("dig-facts").textContent = facts.filter(Boolean).join(" · ");
    var art = el("dig-art");
    if (data.artwork_url) {
      art.src = data.artwork_url;
      art.hidden = false;
    } else {
      art.hidden = true;
    }
    var again = el("dig-rerelease");
    again.hidden = !data.rerelease;
    again.textContent = data.rerelease
      ? "Re-release: on Spotify since " + data.spotify_released + " on " + data.spotify_album
      : "";
    el("dig-link").href = data.url;
    var spotify = el("dig-spotify");
    spotify.hidden = !data.spotify_url;
    if (data.spotify_url) {
      spotify.href = data.spotify_url;
    }
    root.dataset.current = String(data.beatport_id);
    if (!decisions[data.beatport_id] && data.triage !== "new") {
      decisions[data.beatport_id] = data.triage;
    }
    showDecision(data.beatport_id);
  }

  function markPlaying() {
    var audio = audios[current];
    var playing = !!audio.src && !audio.paused && !audio.ended;
    el("dig-play").setAttribute("aria-pressed", playing ? "true" : "false");
    el("dig-play-words").textContent = playing ? "Pause" : "Play";
    root.dataset.playing = playing ? "true" : "false";
  }

  function play() {
    var audio = audios[current];
    if (!audio.src) {
      return;
    }
    var started = audio.play();
    if (started && started.catch) {
      started.catch(function () {
        markPlaying();
      });
    }
  }

  // Load the card of the track after this one and its preview into the idle <audio>.
  function preloadNext() {
    if (index + 1 >= ids.length) {
      return;
    }
    card(index + 1).then(function (data) {
      var idle = audios[1 - current];
      if (data.sample_url && idle.dataset.sample !== data.sample_url) {
        idle.dataset.sample = data.sample_url;
        idle.src = data.sample_url;
        idle.load();
      }
    }, function () {});
  }

  function show(position) {
    index = position;
    finished = false;
    progress();
    el("dig-error").textContent = "";
    var shownAt = position;
    card(position).then(function (data) {
      if (index !== shownAt) {
        return;
      }
      render(data);
      var audio = audios[current];
      audio.pause();
      var other = audios[1 - current];
      if (data.sample_url && other.dataset.sample === data.sample_url) {
        current = 1 - current; // the preview loaded ahead
      } else if (audio.dataset.sample !== data.sample_url) {
        audio.dataset.sample = data.sample_url || "";
        if (data.sample_url) {
          audio.src = data.sample_url;
        } else {
          audio.removeAttribute("src");
        }
        audio.load();
      }
      audios[current].currentTime = 0;
      if (wantPlaying) {
        play();
      }
      markPlaying();
      preloadNext();
    }, function (error) {
      el("dig-error").textContent = error.message;
    });
  }

  function next() {
    if (index + 1 < ids.length) {
      show(index + 1);
    } else {
      finished = true;
      audios[current].pause();
      progress();
    }
  }

  function previous() {
    if (index > 0) {
      show(index - 1);
    }
  }

  function toggle() {
    var audio = audios[current];
    if (audio.paused) {
      wantPlaying = true;
      play();
    } else {
      wantPlaying = false;
      audio.pause();
    }
    markPlaying();
  }

  function post(id, body) {
    return fetch("/dig/track/" + id, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          throw new Error(answer.detail || "The decision was not saved.");
        }
        root.dataset.saved = String(Number(root.dataset.saved || "0") + 1);
      });
    });
  }

  function decide(decision, crate) {
    var id = ids[index];
    decisions[id] = decision;
    showDecision(id);
    var body = { decision: decision };
    if (crate) {
      body.crate = crate;
    }
    // Decisions are posted one after another, so a crate gets its tracks in the order
    // they were kept however fast the keys come; the dig itself moves on at once.
    saving = saving
      .then(function () {
        return post(id, body);
      })
      .catch(function (error) {
        delete decisions[id];
        progress();
        el("dig-error").textContent = error.message;
      });
    next();
  }

  function keep(number) {
    var buttons = root.querySelectorAll("button.dig-keep");
    if (number >= 1 && number <= buttons.length) {
      decide("kept", buttons[number - 1].dataset.crate);
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") {
      return;
    }
    var key = event.key;
    if (key === " " || key === "Spacebar") {
      if (tag === "BUTTON" || tag === "A") {
        return; // the focused control's own action
      }
      event.preventDefault();
      toggle();
    } else if (key === "ArrowRight") {
      event.preventDefault();
      next();
    } else if (key === "ArrowLeft") {
      event.preventDefault();
      previous();
    } else if (key === "x" || key === "X") {
      decide("skipped");
    } else if (/^[1-9]$/.test(key)) {
      keep(Number(key));
    }
  });

  el("dig-play").addEventListener("click", toggle);
  el("dig-next").addEventListener("click", next);
  el("dig-prev").addEventListener("click", previous);
  el("dig-skip").addEventListener("click", function () {
    decide("skipped");
  });
  root.querySelectorAll("button.dig-keep").forEach(function (button, position) {
    button.addEventListener("click", function () {
      keep(position + 1);
    });
  });
  audios.forEach(function (audio) {
    ["play", "pause", "ended"].forEach(function (name) {
      audio.addEventListener(name, markPlaying);
    });
  });

  root.focus();
  show(0);
})();
