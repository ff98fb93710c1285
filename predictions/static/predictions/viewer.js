/* The whole-record ECG viewer on the result page.
 *
 * Draws the stored, filtered signal on ECG paper at true scale (25 mm/s and 10 mm/mV at zoom 1),
 * fetched per window from trace.json (min/max per pixel column, so QRS peaks survive any zoom),
 * with every beat labelled in its class colour. A minimap shows the whole record with the
 * abnormal beats; buttons jump to the next/previous beat of a class; clicking a beat shows its
 * details and, for a reviewing doctor, fills the correction form. Mouse, touch and keyboard work.
 * Plain canvas: no plotting library is needed for paper, a trace and labels, and it stays fast.
 */
(function () {
  "use strict";

  const PX_PER_MM = 4; // ~true size on a 96-dpi screen
  const ZOOMS = [0.25, 0.5, 1, 2, 4];

  function colourOf(code) {
    const probe = document.createElement("span");
    probe.className = "beat-" + code;
    document.body.appendChild(probe);
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
  }

  function setup(root) {
    const url = root.dataset.traceUrl;
    const main = root.querySelector("canvas.viewer-main");
    const mini = root.querySelector("canvas.viewer-mini");
    const info = root.querySelector(".viewer-info");
    const zoomLabel = root.querySelector(".viewer-zoom-label");
    const classSelect = root.querySelector(".viewer-class");
    const state = { zoom: 1, start: 0, duration: 0, window: null, overview: null, selected: null, colours: {}, hits: [] };
    let pending = null;

    function secondsVisible() {
      return main.clientWidth / (25 * PX_PER_MM * state.zoom);
    }

    function colour(code) {
      if (!state.colours[code]) state.colours[code] = colourOf(code);
      return state.colours[code];
    }

    function fetchWindow(start, end, columns) {
      const q = new URLSearchParams({ start: start.toFixed(3), end: end.toFixed(3), columns: String(Math.round(columns)) });
      return fetch(url + "?" + q.toString(), { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("trace " + r.status);
        return r.json();
      });
    }

    function sizeCanvas(canvas, cssHeight) {
      const ratio = window.devicePixelRatio || 1;
      canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
      canvas.height = Math.round(cssHeight * ratio);
      canvas.style.height = cssHeight + "px";
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      return ctx;
    }

    function drawPaper(ctx, width, height, pxPerMm) {
      ctx.fillStyle = "#fffafa";
      ctx.fillRect(0, 0, width, height);
      for (let mm = 0, x = 0; x <= width; mm++, x = mm * pxPerMm) {
        ctx.strokeStyle = mm % 5 === 0 ? "#f1a7a7" : "#fbe1e1";
        ctx.beginPath(); ctx.moveTo(x + 0.5, 0); ctx.lineTo(x + 0.5, height); ctx.stroke();
      }
      for (let mm = 0, y = 0; y <= height; mm++, y = mm * pxPerMm) {
        ctx.strokeStyle = mm % 5 === 0 ? "#f1a7a7" : "#fbe1e1";
        ctx.beginPath(); ctx.moveTo(0, y + 0.5); ctx.lineTo(width, y + 0.5); ctx.stroke();
      }
    }

    function drawTrace(ctx, data, x0, secPerPx, yOf) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      if (data.kind === "samples") {
        data.values.forEach(function (v, i) {
          const x = x0 + (data.start_s + i * data.dt - state.start) / secPerPx;
          if (i === 0) ctx.moveTo(x, yOf(v)); else ctx.lineTo(x, yOf(v));
        });
      } else {
        data.min.forEach(function (lo, i) {
          const x = x0 + (data.start_s + i * data.dt - state.start) / secPerPx;
          ctx.moveTo(x, yOf(data.max[i]));
          ctx.lineTo(x, yOf(lo));
          if (i + 1 < data.min.length) ctx.lineTo(x + data.dt / secPerPx, yOf(data.max[i + 1]));
        });
      }
      ctx.stroke();
    }

    function draw() {
      const width = main.clientWidth;
      const height = 240;
      const ctx = sizeCanvas(main, height);
      const pxPerMm = PX_PER_MM * state.zoom;
      drawPaper(ctx, width, height, pxPerMm);
      const secPerPx = 1 / (25 * pxPerMm);
      const pxPerMv = 10 * PX_PER_MM * Math.max(state.zoom, 1);
      const yOf = function (mv) { return height * 0.6 - mv * pxPerMv; };
      state.hits = [];
      const data = state.window;
      if (data) {
        drawEpisodes(ctx, data.episodes, secPerPx, height);
        drawTrace(ctx, data, 0, secPerPx, yOf);
        ctx.font = "bold 12px system-ui, sans-serif";
        ctx.textAlign = "center";
        data.beats.forEach(function (beat) {
          const x = (beat.t - state.start) / secPerPx;
          if (x < -20 || x > width + 20) return;
          const selected = state.selected === beat.index;
          ctx.fillStyle = colour(beat.code);
          ctx.fillRect(x - 1, 18, 2, 8);
          ctx.fillText(beat.code, x, 14);
          if (selected) {
            ctx.strokeStyle = colour(beat.code);
            ctx.lineWidth = 2;
            ctx.strokeRect(x - 14, 2, 28, height - 4);
          }
          state.hits.push({ x: x, beat: beat });
        });
      }
      const end = state.start + width * secPerPx;
      zoomLabel.textContent = (25 * state.zoom) + " mm/s · " + fmt(state.start) + "–" + fmt(Math.min(end, state.duration));
      main.setAttribute("aria-label", "ECG trace from " + fmt(state.start) + " to " + fmt(end) +
        (data ? ", " + data.beats.length + " beats" : ""));
      drawMini();
    }

    function drawEpisodes(ctx, episodes, secPerPx, height) {
      // Atrial fibrillation/flutter episodes found by the rhythm model, shaded and named.
      (episodes || []).forEach(function (e) {
        const x0 = (e.start_s - state.start) / secPerPx;
        const x1 = (e.end_s - state.start) / secPerPx;
        ctx.fillStyle = "rgba(180, 83, 9, 0.12)";
        ctx.fillRect(x0, 0, Math.max(2, x1 - x0), height);
        if (height > 100) {
          ctx.fillStyle = "#7c2d12";
          ctx.font = "11px system-ui, sans-serif";
          ctx.textAlign = "left";
          ctx.fillText("atrial fibrillation", Math.max(2, x0 + 4), height - 6);
        }
      });
    }

    function drawMini() {
      if (!state.overview) return;
      const width = mini.clientWidth;
      const height = 56;
      const ctx = sizeCanvas(mini, height);
      ctx.fillStyle = "#f8f9fa";
      ctx.fillRect(0, 0, width, height);
      const data = state.overview;
      const secPerPx = state.duration / width;
      let lo = Infinity, hi = -Infinity;
      (data.min || data.values).forEach(function (v) { lo = Math.min(lo, v); });
      (data.max || data.values).forEach(function (v) { hi = Math.max(hi, v); });
      const span = Math.max(hi - lo, 1e-6);
      const yOf = function (v) { return 8 + (height - 16) * (1 - (v - lo) / span); };
      const saved = state.start;
      state.start = 0;
      drawEpisodes(ctx, data.episodes, secPerPx, height);
      drawTrace(ctx, data, 0, secPerPx, yOf);
      state.start = saved;
      data.beats.forEach(function (beat) {
        if (beat.code === "N") return;
        ctx.fillStyle = colour(beat.code);
        ctx.fillRect(beat.t / secPerPx - 1, 0, 2, 7);
      });
      ctx.strokeStyle = "#0d6efd";
      ctx.lineWidth = 2;
      ctx.strokeRect(state.start / secPerPx, 1, Math.max(3, secondsVisible() / secPerPx), height - 2);
    }

    function fmt(seconds) {
      const m = Math.floor(seconds / 60);
      const s = seconds - 60 * m;
      return (m ? m + " min " : "") + s.toFixed(1) + " s";
    }

    function load() {
      clearTimeout(pending);
      pending = setTimeout(function () {
        const visible = secondsVisible();
        const start = state.start;
        fetchWindow(start, start + visible, main.clientWidth).then(function (data) {
          if (start !== state.start) return; // a newer window was asked for meanwhile
          state.window = data;
          draw();
          root.dataset.ready = "true";
        }).catch(function () {
          info.textContent = "The trace could not be loaded. Reload the page to try again.";
        });
      }, 40);
    }

    function moveTo(start) {
      const visible = secondsVisible();
      state.start = Math.max(0, Math.min(start, Math.max(0, state.duration - visible)));
      draw();
      load();
    }

    function setZoom(zoom) {
      const centre = state.start + secondsVisible() / 2;
      state.zoom = zoom;
      moveTo(centre - secondsVisible() / 2);
    }

    function describe(beat) {
      const name = (classSelect.querySelector('option[value="' + beat.code + '"]') || {}).textContent || beat.code;
      const confidence = beat.p == null ? "" : ", confidence " + Math.round(beat.p * 100) + " %";
      info.textContent = "Beat " + (beat.index + 1) + " at " + fmt(beat.t) + ": " + name + confidence + ".";
      const field = document.getElementById("id_beat_index");
      if (field) {
        field.value = String(beat.index + 1);
        info.textContent += " Its number is filled in the review form below to correct it.";
      }
    }

    function select(beat, centre) {
      state.selected = beat.index;
      describe(beat);
      if (centre) moveTo(beat.t - secondsVisible() / 2); else draw();
    }

    function jump(direction) {
      const code = classSelect.value;
      const beats = state.overview ? state.overview.beats : [];
      const here = state.selected != null
        ? (beats.find(function (b) { return b.index === state.selected; }) || { t: state.start }).t
        : state.start + (direction > 0 ? 0 : secondsVisible());
      const candidates = beats.filter(function (b) { return b.code === code && (direction > 0 ? b.t > here + 1e-6 : b.t < here - 1e-6); });
      if (!candidates.length) {
        info.textContent = "No " + (direction > 0 ? "later" : "earlier") + " " + code + " beat.";
        return;
      }
      select(direction > 0 ? candidates[0] : candidates[candidates.length - 1], true);
    }

    root.querySelector(".viewer-zoom-in").addEventListener("click", function () {
      const i = ZOOMS.indexOf(state.zoom);
      if (i < ZOOMS.length - 1) setZoom(ZOOMS[i + 1]);
    });
    root.querySelector(".viewer-zoom-out").addEventListener("click", function () {
      const i = ZOOMS.indexOf(state.zoom);
      if (i > 0) setZoom(ZOOMS[i - 1]);
    });
    root.querySelector(".viewer-next").addEventListener("click", function () { jump(1); });
    root.querySelector(".viewer-prev").addEventListener("click", function () { jump(-1); });

    main.addEventListener("keydown", function (e) {
      const step = secondsVisible() / 4;
      if (e.key === "ArrowRight") moveTo(state.start + step);
      else if (e.key === "ArrowLeft") moveTo(state.start - step);
      else if (e.key === "+" || e.key === "=") root.querySelector(".viewer-zoom-in").click();
      else if (e.key === "-") root.querySelector(".viewer-zoom-out").click();
      else if (e.key === "n") jump(1);
      else if (e.key === "p") jump(-1);
      else return;
      e.preventDefault();
    });

    let drag = null;
    main.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, start: state.start, moved: false };
      main.setPointerCapture(e.pointerId);
    });
    main.addEventListener("pointermove", function (e) {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) {
        state.start = Math.max(0, Math.min(drag.start - dx / (25 * PX_PER_MM * state.zoom), Math.max(0, state.duration - secondsVisible())));
        draw();
      }
    });
    main.addEventListener("pointerup", function (e) {
      const wasDrag = drag && drag.moved;
      drag = null;
      if (wasDrag) { load(); return; }
      const x = e.clientX - main.getBoundingClientRect().left;
      let best = null;
      state.hits.forEach(function (h) { if (Math.abs(h.x - x) < 14 && (!best || Math.abs(h.x - x) < Math.abs(best.x - x))) best = h; });
      if (best) select(best.beat, false);
    });
    main.addEventListener("wheel", function (e) {
      if (Math.abs(e.deltaX) < Math.abs(e.deltaY) && !e.shiftKey) return;
      e.preventDefault();
      moveTo(state.start + (e.deltaX || e.deltaY) / (25 * PX_PER_MM * state.zoom));
    }, { passive: false });
    mini.addEventListener("click", function (e) {
      const x = e.clientX - mini.getBoundingClientRect().left;
      moveTo((x / mini.clientWidth) * state.duration - secondsVisible() / 2);
    });
    window.addEventListener("resize", function () { draw(); load(); });
    // A finding's time in the reading (data-goto-s) centres the trace on it.
    document.addEventListener("click", function (e) {
      const link = e.target.closest("[data-goto-s]");
      if (!link) return;
      e.preventDefault();
      moveTo(parseFloat(link.dataset.gotoS) - secondsVisible() / 2);
      root.scrollIntoView({ block: "nearest" });
      main.focus();
    });

    fetchWindow(0, 1e9, Math.max(200, mini.clientWidth)).then(function (overview) {
      state.overview = overview;
      state.duration = overview.duration_s;
      const present = {};
      overview.beats.forEach(function (b) { present[b.code] = (present[b.code] || 0) + 1; });
      Array.prototype.forEach.call(classSelect.options, function (option) {
        option.hidden = !present[option.value];
        option.textContent = option.textContent.replace(/ \(\d+\)$/, "") + " (" + (present[option.value] || 0) + ")";
      });
      const firstAbnormal = Array.prototype.find.call(classSelect.options, function (o) { return present[o.value] && o.value !== "N"; });
      if (firstAbnormal) classSelect.value = firstAbnormal.value;
      moveTo(0);
    }).catch(function () {
      info.textContent = "The trace could not be loaded. Reload the page to try again.";
    });
  }

  function init() {
    document.querySelectorAll("[data-trace-url]").forEach(function (root) {
      if (!root.dataset.viewerBound) { root.dataset.viewerBound = "true"; setup(root); }
    });
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init); // the result arrives by polling
  if (document.readyState !== "loading") init();
})();
