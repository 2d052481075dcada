// notebook-launcher local console: live updates without a reload (no framework, no build).
"use strict";
(function () {
  var POLL_MS = 1000;

  function poll(fn) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fn().catch(function () {}).then(function () { busy = false; });
    }
    return window.setInterval(tick, POLL_MS);
  }

  // The runs table: its rows re-rendered by the server with the page's own filters.
  var rows = document.getElementById("runs-rows");
  if (rows && rows.dataset.liveRows) {
    poll(function () {
      return fetch(rows.dataset.liveRows, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { if (html !== rows.dataset.last) { rows.innerHTML = html; rows.dataset.last = html; } });
    });
  }

  // A run: its state, timeline and log tail while it runs; the full page once it ends.
  var run = document.getElementById("run");
  if (run && run.dataset.liveRun && run.dataset.finished !== "true") {
    var offset = run.dataset.logOffset || "0";
    var log = document.getElementById("log");
    var timer = poll(function () {
      return fetch(run.dataset.liveRun + "?logOffset=" + encodeURIComponent(offset),
                   { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          var state = document.getElementById("run-state");
          state.textContent = data.state;
          state.className = "state state-" + data.state;
          document.getElementById("run-details").textContent = data.details;
          document.getElementById("run-duration").textContent = data.duration;
          var list = document.getElementById("timeline");
          list.textContent = "";
          data.timeline.forEach(function (step) {
            var item = document.createElement("li");
            var badge = document.createElement("span");
            badge.className = "state state-" + step.label;
            badge.textContent = step.label;
            item.appendChild(badge);
            item.appendChild(document.createTextNode(" " + step.time));
            list.appendChild(item);
          });
          if (data.log) {
            var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            log.appendChild(document.createTextNode(data.log));
            if (atEnd) log.scrollTop = log.scrollHeight;
          }
          offset = String(data.logOffset);
          if (data.finished) {
            window.clearInterval(timer);
            window.location.reload();
          }
        });
    });
  }

  // A pipeline run: its state and each step's state, times and job run while it runs; the
  // full page once it ends.
  var pipelineRun = document.getElementById("pipeline-run");
  if (pipelineRun && pipelineRun.dataset.livePipelineRun && pipelineRun.dataset.finished !== "true") {
    var prefix = pipelineRun.dataset.livePipelineRun.split("/api/")[0];
    var pipelineTimer = poll(function () {
      return fetch(pipelineRun.dataset.livePipelineRun, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          var state = document.getElementById("run-state");
          state.textContent = data.state;
          state.className = "state state-" + data.state;
          document.getElementById("run-details").textContent = data.details;
          document.getElementById("run-duration").textContent = data.duration;
          data.steps.forEach(function (step) {
            var card = pipelineRun.querySelector('[data-step="' + CSS.escape(step.name) + '"]');
            if (!card) return;
            var badge = card.querySelector('[data-field="state"]');
            badge.textContent = step.state;
            badge.className = "state state-" + step.state;
            ["started", "finishedAt", "duration", "details"].forEach(function (key) {
              card.querySelector('[data-field="' + key + '"]').textContent = step[key];
            });
            var link = card.querySelector('[data-field="jobRun"]');
            if (step.jobRunId && !link.firstChild) {
              var a = document.createElement("a");
              a.href = prefix + "/runs/" + encodeURIComponent(step.jobRunId);
              a.textContent = "job run";
              link.appendChild(a);
            }
          });
          if (data.finished) {
            window.clearInterval(pipelineTimer);
            window.location.reload();
          }
        });
    });
  }
})();
