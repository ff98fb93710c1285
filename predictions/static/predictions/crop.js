/* The crop step of the upload page (issue 20): before a photo of a paper ECG is sent, the person
 * sees it with the four corners of the page marked, and can drag each corner onto the page's
 * corner. The corners (pixels of the picture as the browser shows it, EXIF turn applied: the
 * same frame as the reader's) go in the hidden "corners" field, in the order top-left, top-right,
 * bottom-right, bottom-left. The frame starts on the page the reader finds (a reduced copy is sent
 * to upload/page/, which runs the reader's own page finder); untouched, the field stays empty and
 * the reader finds the same page itself at full size. Works with a mouse, a finger (pointer events, no page scroll while dragging a corner)
 * and the keyboard (Tab to a corner's button, arrow keys move it).
 */
(function () {
  "use strict";

  const SHOWN = ["image/png", "image/jpeg", "image/webp", "image/bmp"];  // what a browser can draw
  const INSET = 0.04;  // the corners start this share inside the picture's edges
  const HIT_PX = 28;   // a finger-sized target around each corner
  const PROBE_SIDE = 640;  // the copy sent to find the page: its long side, px
  const NAMES = ["top-left", "top-right", "bottom-right", "bottom-left"];

  const panel = document.getElementById("crop-step");
  const input = document.getElementById("id_file");
  const field = document.getElementById("id_corners");
  if (!panel || !input || !field) return;
  const canvas = panel.querySelector("canvas");
  const reset = panel.querySelector(".crop-reset");
  const handles = Array.prototype.slice.call(panel.querySelectorAll(".crop-corner"));
  const state = { image: null, corners: null, found: null, moved: false, drag: null };

  function initial(w, h) {
    return [[w * INSET, h * INSET], [w * (1 - INSET), h * INSET], [w * (1 - INSET), h * (1 - INSET)], [w * INSET, h * (1 - INSET)]];
  }

  function scale() { return canvas.clientWidth / state.image.naturalWidth; }

  function save() {
    field.value = state.moved ? JSON.stringify(state.corners.map(function (p) { return [Math.round(p[0]), Math.round(p[1])]; })) : "";
    panel.dataset.moved = state.moved ? "true" : "false";
  }

  function draw() {
    if (!state.image) return;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = Math.round(width * state.image.naturalHeight / state.image.naturalWidth);
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.drawImage(state.image, 0, 0, width, height);
    const s = scale();
    const pts = state.corners.map(function (p) { return [p[0] * s, p[1] * s]; });
    ctx.fillStyle = "rgba(0, 0, 0, 0.35)";  // dim what lies outside the page
    ctx.beginPath();
    ctx.rect(0, 0, width, height);
    ctx.moveTo(pts[0][0], pts[0][1]);
    for (let i = 3; i >= 0; i--) ctx.lineTo(pts[i][0], pts[i][1]);
    ctx.closePath();
    ctx.fill("evenodd");
    ctx.strokeStyle = "#0d6efd";
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach(function (p, i) { if (i === 0) ctx.moveTo(p[0], p[1]); else ctx.lineTo(p[0], p[1]); });
    ctx.closePath();
    ctx.stroke();
    pts.forEach(function (p, i) {
      handles[i].style.left = p[0] + "px";
      handles[i].style.top = p[1] + "px";
    });
  }

  // Send a reduced copy to the server's page finder; put the frame on the page it finds.
  function detect(image) {
    const f = Math.min(1, PROBE_SIDE / Math.max(image.naturalWidth, image.naturalHeight));
    const copy = document.createElement("canvas");
    copy.width = Math.max(8, Math.round(image.naturalWidth * f));
    copy.height = Math.max(8, Math.round(image.naturalHeight * f));
    copy.getContext("2d").drawImage(image, 0, 0, copy.width, copy.height);
    copy.toBlob(function (blob) {
      const body = new FormData();
      body.append("picture", blob, "page.jpg");
      const token = document.querySelector("input[name=csrfmiddlewaretoken]");
      fetch(panel.dataset.pageUrl, { method: "POST", body: body, credentials: "same-origin",
                                     headers: token ? { "X-CSRFToken": token.value } : {} })
        .then(function (r) { return r.ok ? r.json() : { corners: null }; })
        .then(function (answer) {
          if (state.image !== image || state.moved) return;  // another picture, or already moved
          if (answer.corners) {
            const s = image.naturalWidth / copy.width;
            state.found = answer.corners.map(function (p) { return [p[0] * s, p[1] * s]; });
            state.corners = state.found.map(function (p) { return p.slice(); });
            draw();
          }
          panel.dataset.detected = answer.corners ? "true" : "false";
        })
        .catch(function () { panel.dataset.detected = "false"; });
    }, "image/jpeg", 0.85);
  }

  function show(file) {
    state.image = null;
    field.value = "";
    if (!file || SHOWN.indexOf(file.type) < 0) { panel.hidden = true; return; }
    const image = new Image();
    image.onload = function () {
      state.image = image;
      state.found = null;
      state.corners = initial(image.naturalWidth, image.naturalHeight);
      state.moved = false;
      panel.hidden = false;
      save();
      draw();
      panel.dataset.ready = "true";
      detect(image);
    };
    image.src = URL.createObjectURL(file);
  }

  function move(i, x, y) {
    const w = state.image.naturalWidth, h = state.image.naturalHeight;
    state.corners[i] = [Math.min(w, Math.max(0, x)), Math.min(h, Math.max(0, y))];
    state.moved = true;
    save();
    draw();
  }

  function nearest(event) {
    const box = canvas.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top, s = scale();
    let best = -1, dist = HIT_PX;
    state.corners.forEach(function (p, i) {
      const d = Math.hypot(p[0] * s - x, p[1] * s - y);
      if (d <= dist) { best = i; dist = d; }
    });
    return best;
  }

  function pointerAt(event) {
    const box = canvas.getBoundingClientRect(), s = scale();
    return [(event.clientX - box.left) / s, (event.clientY - box.top) / s];
  }

  panel.addEventListener("pointerdown", function (event) {
    if (!state.image) return;
    const target = event.target.closest(".crop-corner");
    const i = target ? handles.indexOf(target) : nearest(event);
    if (i < 0) return;
    event.preventDefault();
    state.drag = i;
    panel.setPointerCapture(event.pointerId);
  });
  panel.addEventListener("pointermove", function (event) {
    if (state.drag === null) return;
    const p = pointerAt(event);
    move(state.drag, p[0], p[1]);
  });
  ["pointerup", "pointercancel"].forEach(function (type) {
    panel.addEventListener(type, function () { state.drag = null; });
  });
  handles.forEach(function (handle, i) {
    handle.setAttribute("aria-label", "Move the " + NAMES[i] + " corner of the page (arrow keys)");
    handle.addEventListener("keydown", function (event) {
      const step = (event.shiftKey ? 20 : 4) / scale();
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
      if (!d || !state.image) return;
      event.preventDefault();
      move(i, state.corners[i][0] + d[0], state.corners[i][1] + d[1]);
    });
  });
  reset.addEventListener("click", function () {
    state.corners = state.found ? state.found.map(function (p) { return p.slice(); })
      : initial(state.image.naturalWidth, state.image.naturalHeight);
    state.moved = false;
    save();
    draw();
  });
  input.addEventListener("change", function () { show(input.files.length === 1 ? input.files[0] : null); });
  window.addEventListener("resize", draw);
})();
