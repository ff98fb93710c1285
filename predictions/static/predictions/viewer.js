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
  const TRACE_HEIGHT = 240; // px: 60 mm of paper
  const BASELINE = 0.6; // where 0 mV sits, from the top, as a share of the height
  const LEAD_BAND = 100; // px (25 mm) a lead takes when every lead of a multi-lead input is shown
  const ZOOMS = [0.25, 0.5, 1, 2, 4];
  // The standard 12-lead print (AHA/ACC/HRS 2007): three rows of four leads, each lead shown for a
  // quarter of the screen's time, and lead II across the whole width as the rhythm strip.
  const PRINT_ROWS = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"], ["II"]];

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
    const state = { zoom: 1, start: 0, duration: 0, window: null, overview: null, selected: null, colours: {}, hits: [],
                    calipers: null, allLeads: false, print: false };  // null: off; [] / [a] / [a, b]: points {t (s), mv} while measuring
    const caliperButton = root.querySelector(".viewer-calipers");
    let pending = null;

    function secondsVisible() {
      return main.clientWidth / (25 * PX_PER_MM * state.zoom);
    }

    function colour(code) {
      if (!state.colours[code]) state.colours[code] = colourOf(code);
      return state.colours[code];
    }

    function fetchWindow(start, end, columns, withLeads) {
      const q = new URLSearchParams({ start: start.toFixed(3), end: end.toFixed(3), columns: String(Math.round(columns)) });
      if (withLeads) q.set("leads", "all");
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

    // A curve of the trace window; null values (a picture's lead outside its panel) are gaps.
    function drawTrace(ctx, data, x0, secPerPx, yOf) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      if (data.kind === "samples") {
        let pen = false;
        data.values.forEach(function (v, i) {
          if (v == null) { pen = false; return; }
          const x = x0 + (data.start_s + i * data.dt - state.start) / secPerPx;
          if (!pen) ctx.moveTo(x, yOf(v)); else ctx.lineTo(x, yOf(v));
          pen = true;
        });
      } else {
        data.min.forEach(function (lo, i) {
          if (lo == null || data.max[i] == null) return;
          const x = x0 + (data.start_s + i * data.dt - state.start) / secPerPx;
          ctx.moveTo(x, yOf(data.max[i]));
          ctx.lineTo(x, yOf(lo));
          if (i + 1 < data.min.length && data.max[i + 1] != null) ctx.lineTo(x + data.dt / secPerPx, yOf(data.max[i + 1]));
        });
      }
      ctx.stroke();
    }


    // The window's leads by name, when it holds every lead of the standard print; else null.
    function printLeads(data) {
      if (!state.print || !data || !data.leads) return null;
      const byName = {};
      data.leads.forEach(function (lead) { byName[lead.name] = lead; });
      return PRINT_ROWS.every(function (row) { return row.every(function (n) { return byName[n]; }); }) ? byName : null;
    }

    function drawPrint(ctx, data, byName, width, secPerPx, pxPerMv) {
      PRINT_ROWS.forEach(function (row, r) {
        const top = r * LEAD_BAND;
        const base = top + LEAD_BAND * BASELINE;
        const part = width / row.length;
        row.forEach(function (name, c) {
          ctx.save();
          ctx.beginPath();
          ctx.rect(c * part, top, part, LEAD_BAND);
          ctx.clip();
          drawTrace(ctx, Object.assign({ start_s: data.start_s, dt: data.dt }, byName[name]), 0, secPerPx,
                    function (mv) { return base - mv * pxPerMv; });
          ctx.restore();
          ctx.fillStyle = "#333";
          ctx.font = "bold 12px system-ui, sans-serif";
          ctx.textAlign = "left";
          ctx.fillText(name, c * part + 4, top + 30);
          if (c > 0) {  // the lead-change mark
            ctx.strokeStyle = "#111";
            ctx.lineWidth = 1.5;
            ctx.beginPath(); ctx.moveTo(c * part, base - 10); ctx.lineTo(c * part, base + 10); ctx.stroke();
          }
        });
      });
    }

    function draw() {
      const width = main.clientWidth;
      const byName = printLeads(state.window);
      const stacked = !byName && state.allLeads && state.window && state.window.leads;
      const height = byName ? LEAD_BAND * PRINT_ROWS.length : stacked ? LEAD_BAND * state.window.leads.length : TRACE_HEIGHT;
      const ctx = sizeCanvas(main, height);
      // Paper as printed: the grid is 1 mm whatever the speed (the speed sets seconds per mm),
      // and the amplitude stays 10 mm/mV, so zooming never clips a QRS or skews the squares.
      // A picture without a scale (a single-beat plot) is drawn on plain paper.
      if (root.dataset.scaleKnown === "false") { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, width, height); }
      else drawPaper(ctx, width, height, PX_PER_MM);
      const secPerPx = 1 / (25 * PX_PER_MM * state.zoom);
      const pxPerMv = 10 * PX_PER_MM;
      const yOf = function (mv) { return height * BASELINE - mv * pxPerMv; };
      state.hits = [];
      const data = state.window;
      if (data) {
        drawEpisodes(ctx, data.episodes, secPerPx, height);
        if (byName) {
          drawPrint(ctx, data, byName, width, secPerPx, pxPerMv);
        } else if (stacked) {
          // Every lead in its own 25-mm band, named at its left (the analysed lead's beats on top).
          data.leads.forEach(function (lead, i) {
            const base = i * LEAD_BAND + LEAD_BAND * BASELINE;
            drawTrace(ctx, Object.assign({ start_s: data.start_s, dt: data.dt }, lead), 0, secPerPx,
                      function (mv) { return base - mv * pxPerMv; });
            ctx.fillStyle = "#333";
            ctx.font = "bold 12px system-ui, sans-serif";
            ctx.textAlign = "left";
            ctx.fillText(lead.name, 4, i * LEAD_BAND + 30);
          });
        } else {
          drawTrace(ctx, data, 0, secPerPx, yOf);
        }
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
      drawRuler(ctx, width, height, secPerPx);
      if (!stacked && !byName) drawCalipers(ctx, height, secPerPx, yOf);
      const end = state.start + width * secPerPx;
      zoomLabel.textContent = (root.dataset.scaleKnown === "false" ? "no scale in the picture" : (25 * state.zoom) + " mm/s, 10 mm/mV")
        + " · " + fmt(state.start) + "–" + fmt(Math.min(end, state.duration));
      main.setAttribute("aria-label", "ECG trace from " + fmt(state.start) + " to " + fmt(end) +
        (data ? ", " + data.beats.length + " beats" : ""));
      drawMini();
    }

    // A time ruler along the bottom: labelled ticks at least 60 px apart (0.2 s to 1 min).
    function drawRuler(ctx, width, height, secPerPx) {
      const step = [0.2, 0.5, 1, 2, 5, 10, 30, 60].find(function (s) { return s / secPerPx >= 60; }) || 60;
      ctx.fillStyle = "#555";
      ctx.strokeStyle = "#555";
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "center";
      for (let t = Math.ceil(state.start / step) * step; (t - state.start) / secPerPx <= width; t += step) {
        const x = (t - state.start) / secPerPx;
        ctx.beginPath(); ctx.moveTo(x + 0.5, height - 12); ctx.lineTo(x + 0.5, height - 6); ctx.stroke();
        ctx.fillText(fmt(t).replace(" s", "s"), x, height - 1);
      }
    }

    // Calipers: two points; their time apart (ms and the rate it makes) and amplitude apart (mV).
    function drawCalipers(ctx, height, secPerPx, yOf) {
      const points = state.calipers || [];
      ctx.strokeStyle = "#0d6efd";
      ctx.lineWidth = 1.5;
      points.forEach(function (p) {
        const x = (p.t - state.start) / secPerPx;
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, height); ctx.stroke();
        ctx.beginPath(); ctx.arc(x, yOf(p.mv), 3, 0, 2 * Math.PI); ctx.stroke();
      });
    }

    function caliperText() {
      const p = state.calipers;
      if (!p || p.length < 2) return "Calipers: click " + (p && p.length ? "the second" : "the first") + " point.";
      const dt = Math.abs(p[1].t - p[0].t);
      return "Calipers: " + Math.round(dt * 1000) + " ms (" + (dt > 0 ? Math.round(60 / dt) : "–") + "/min), " +
        (p[1].mv - p[0].mv).toFixed(2) + " mV. Click again to measure anew.";
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
        // One screen on each side too, so a drag does not run off the loaded trace.
        const visible = secondsVisible();
        const asked = state.start;
        const start = Math.max(0, asked - visible);
        fetchWindow(start, asked + 2 * visible, 3 * main.clientWidth, state.allLeads).then(function (data) {
          if (asked !== state.start) return; // a newer window was asked for meanwhile
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

    function describe(beat, add) {
      const name = (classSelect.querySelector('option[value="' + beat.code + '"]') || {}).textContent || beat.code;
      const confidence = beat.p == null ? "" : ", confidence " + Math.round(beat.p * 100) + " %";
      info.textContent = "Beat " + (beat.index + 1) + " at " + fmt(beat.t) + ": " + name + confidence + ".";
      // The review form's "Beats to relabel": a click names this beat, a Shift-click adds it.
      const field = document.getElementById("id_beats");
      if (field) {
        const number = String(beat.index + 1);
        const listed = field.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
        field.value = add ? listed.filter(function (s) { return s !== number; }).concat([number]).join(", ") : number;
        info.textContent += add ? " Added to the beats to relabel in the review form."
          : " Its number is in the review form below (Shift-click adds more beats).";
      }
    }

    function select(beat, centre, add) {
      state.selected = beat.index;
      describe(beat, add);
      if (centre) moveTo(beat.t - secondsVisible() / 2); else draw();
    }

    function jump(direction) {
      const code = classSelect.value;
      const beats = state.overview ? state.overview.beats : [];
      const here = state.selected != null
        ? (beats.find(function (b) { return b.index === state.selected; }) || { t: state.start }).t
        : state.start + (direction > 0 ? 0 : secondsVisible());
      // "_abnormal": any beat but a normal one; "_unsure": beats the model was unsure of.
      const unsureBelow = parseFloat(root.dataset.unsureBelow || "0");
      const wanted = code === "_abnormal" ? function (b) { return b.code !== "N"; }
        : code === "_unsure" ? function (b) { return b.p != null && b.p < unsureBelow; }
        : function (b) { return b.code === code; };
      const candidates = beats.filter(function (b) { return wanted(b) && (direction > 0 ? b.t > here + 1e-6 : b.t < here - 1e-6); });
      if (!candidates.length) {
        const what = classSelect.options[classSelect.selectedIndex].textContent.replace(/ \(\d+\)$/, "").toLowerCase();
        info.textContent = "No " + (direction > 0 ? "later" : "earlier") + " beat: " + what + ".";
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
      if (state.calipers) {
        const y = e.clientY - main.getBoundingClientRect().top;
        const point = { t: state.start + x / (25 * PX_PER_MM * state.zoom), mv: (TRACE_HEIGHT * BASELINE - y) / (10 * PX_PER_MM) };
        state.calipers = state.calipers.length >= 2 ? [point] : state.calipers.concat([point]);
        info.textContent = caliperText();
        draw();
        return;
      }
      let best = null;
      state.hits.forEach(function (h) { if (Math.abs(h.x - x) < 14 && (!best || Math.abs(h.x - x) < Math.abs(best.x - x))) best = h; });
      if (best) select(best.beat, false, e.shiftKey);
    });
    main.addEventListener("pointercancel", function () { if (drag && drag.moved) load(); drag = null; });
    main.addEventListener("wheel", function (e) {
      if (Math.abs(e.deltaX) < Math.abs(e.deltaY) && !e.shiftKey) return;
      e.preventDefault();
      moveTo(state.start + (e.deltaX || e.deltaY) / (25 * PX_PER_MM * state.zoom));
    }, { passive: false });
    const leadsButton = root.querySelector(".viewer-leads");
    const printButton = root.querySelector(".viewer-print");
    // Three views of a multi-lead input: the analysed lead, every lead stacked, the 3 x 4 print.
    function showLeads(allLeads, print) {
      state.allLeads = allLeads;
      state.print = print;
      state.calipers = null;  // calipers measure on the analysed lead
      if (caliperButton) caliperButton.setAttribute("aria-pressed", "false");
      if (leadsButton) {
        leadsButton.setAttribute("aria-pressed", allLeads && !print ? "true" : "false");
        leadsButton.textContent = allLeads && !print ? "Analysed lead only" : leadsButton.dataset.label;
      }
      if (printButton) printButton.setAttribute("aria-pressed", print ? "true" : "false");
      load();
    }
    if (leadsButton) leadsButton.addEventListener("click", function () {
      showLeads(!(state.allLeads && !state.print), false);
    });
    if (printButton) printButton.addEventListener("click", function () {
      showLeads(!state.print, !state.print);
    });
    if (caliperButton) caliperButton.addEventListener("click", function () {
      state.calipers = state.calipers ? null : [];
      caliperButton.setAttribute("aria-pressed", state.calipers ? "true" : "false");
      info.textContent = state.calipers ? caliperText() : "Calipers off.";
      draw();
    });
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
      const unsureBelow = parseFloat(root.dataset.unsureBelow || "0");
      present._abnormal = overview.beats.filter(function (b) { return b.code !== "N"; }).length;
      present._unsure = overview.beats.filter(function (b) { return b.p != null && b.p < unsureBelow; }).length;
      Array.prototype.forEach.call(classSelect.options, function (option) {
        option.hidden = !present[option.value];
        option.textContent = option.textContent.replace(/ \(\d+\)$/, "") + " (" + (present[option.value] || 0) + ")";
      });
      const firstAbnormal = Array.prototype.find.call(classSelect.options, function (o) { return present[o.value] && o.value !== "N" && o.value[0] !== "_"; });
      if (present._abnormal) classSelect.value = "_abnormal";
      else if (firstAbnormal) classSelect.value = firstAbnormal.value;
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

  // A reviewing doctor's "n" (outside the viewer and the form) opens the next case of the worklist.
  document.addEventListener("keydown", function (e) {
    const next = document.getElementById("next-case");
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) || e.target.closest("[data-trace-url]");
    if (next && e.key === "n" && !e.defaultPrevented && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      window.location.href = next.href;
    }
  });

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init); // the result arrives by polling
  if (document.readyState !== "loading") init();
})();
