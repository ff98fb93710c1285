/* The uploaded picture on the result page, with the trace that was read drawn over it.
 *
 * The stored reading (#picture-reading: the picture's size as displayed, the page's corners, the
 * trace's pixel path) is in the picture's own pixels; the picture comes as a JPEG rendition of
 * any width, so every point is scaled by the canvas's width over the picture's. A switch shows
 * or hides the drawing. Consecutive points further apart than 3 % of the width are a gap.
 */
(function () {
  "use strict";

  const GAP_SHARE = 0.03;

  function setup(root) {
    const canvas = root.querySelector("canvas.picture-canvas");
    const toggle = root.querySelector("#overlay-toggle");
    const data = JSON.parse(document.getElementById("picture-reading").textContent);
    const image = new Image();

    function draw() {
      if (!image.complete || !image.naturalWidth) return;
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = Math.round(width * image.naturalHeight / image.naturalWidth);
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.height = height + "px";
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.drawImage(image, 0, 0, width, height);
      if (!toggle.checked) return;
      const scale = width / data.size[0];
      if (data.corners) {
        ctx.strokeStyle = "#1565c0";
        ctx.lineWidth = 2;
        ctx.setLineDash([8, 6]);
        ctx.beginPath();
        data.corners.forEach(function (p, i) { if (i === 0) ctx.moveTo(p[0] * scale, p[1] * scale); else ctx.lineTo(p[0] * scale, p[1] * scale); });
        ctx.closePath();
        ctx.stroke();
        ctx.setLineDash([]);
      }
      const gap = GAP_SHARE * data.size[0];
      ctx.strokeStyle = "#d50000";
      ctx.lineWidth = 2;
      ctx.beginPath();
      let last = null;
      (data.trace || []).forEach(function (p) {
        if (!p) { last = null; return; }
        if (last && Math.abs(p[0] - last[0]) <= gap) ctx.lineTo(p[0] * scale, p[1] * scale);
        else ctx.moveTo(p[0] * scale, p[1] * scale);
        last = p;
      });
      ctx.stroke();
      root.dataset.drawn = toggle.checked ? "overlay" : "picture";
    }

    image.addEventListener("load", function () { draw(); root.dataset.ready = "true"; });
    image.addEventListener("error", function () { root.dataset.ready = "error"; });
    image.src = root.dataset.pictureUrl;
    toggle.addEventListener("change", function () { draw(); root.dataset.drawn = toggle.checked ? "overlay" : "picture"; });
    window.addEventListener("resize", draw);
  }

  function init() {
    const root = document.getElementById("picture-overlay");
    if (root && !root.dataset.bound) { root.dataset.bound = "true"; setup(root); }
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init); // the result arrives by polling
  if (document.readyState !== "loading") init();
})();
