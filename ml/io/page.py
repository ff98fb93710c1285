"""Page geometry and light of a photographed ECG print-out: find the paper, flatten it, even the light.

``flatten(rgb, corners=None) -> (flat_rgb, PageInfo)`` runs before ``ml.io.image`` reads a page:

1. **Find the paper** (``find_corners``): the page is the largest bright, low-saturation region
   that stands out from what it lies on (a table, a hand, a black scanner lid). Its outline is
   simplified to a quadrilateral; the four corners are returned in the original picture's pixel
   coordinates, top-left, top-right, bottom-right, bottom-left. A caller (the upload page's crop
   step) may pass its own ``corners`` instead, in the same order and coordinates.
2. **Correct perspective**: the quadrilateral is mapped onto a rectangle (a homography), sized so
   that the page keeps about the resolution it had in the picture.
3. **Undo a gentle bend**: a bent or curled page shows its top and bottom edges (and its left and
   right edges) as curves after step 2. Each edge is traced column by column (row by row) on the
   picture's brightness and smoothed; the page is remapped so that those curves become straight
   (a Coons patch between the four edges). A curl also foreshortens the grid towards the curled
   edge: the grid's period is measured in 12 windows along each axis and evened out
   (``PageInfo.spacing_fixed``), and the page's height is scaled so that the squares are square
   (``PageInfo.y_stretch``: the time scale is the horizontal spacing). ``measure_straightness``
   measures the result: how far the grid's lines wander across the page, and how evenly spaced
   they are (the tests hold a 5 %-bent page to within a 1-mm square and 5 %).
4. **Even the light**: the paper's own colour, estimated per channel from the local brightest
   pixels (background estimation on a reduced picture), is divided out, so shadows, a gradient of
   light across the page and a colour cast are removed before the grid and the trace are told
   apart. Glare (large clipped-white patches) is detected and reported.
5. **Upright**: a page whose traces run vertically (a landscape report photographed in portrait
   with no EXIF orientation) is turned by 90 degrees. Small tilts are left to ``ml.io.layout``.

Nothing here decides whether the picture is an ECG: a picture without a page is returned with
only its light evened (``PageInfo.found`` False). ``PageInfo.advice`` lists what a person could
change when taking the photo again ("the page is cut off on the right", "too dark on the left
half", "photograph the page from above"); ``ml.io.image`` adds it to its reason when the page
cannot be read.
"""

from dataclasses import dataclass, field

import numpy as np

DETECT_SIDE = 640  # the paper is sought on a picture reduced to this many pixels on its long side
MIN_PAGE_SHARE = 0.2  # a quadrilateral smaller than this share of the picture is not the page
MIN_EDGE_CONTRAST = 25.0  # paper this much brighter (0-255) than its surroundings has visible edges
FILLS_FRAME_SHARE = 0.97  # paper covering more than this share of the picture fills the frame
MAX_CORNER_ANGLE_DEV = 35.0  # degrees off a right angle: larger is no page seen from a sane angle
STEEP_VIEW_RATIO = 1.25  # opposite edges differing this much: the photo was taken at a steep angle
STEEP_VIEW_ANGLE = 14.0  # or a corner this many degrees off a right angle
BEND_MIN_PX = 1.5  # edges bowed less than this (pixels of the flat page) are left alone
DARK_HALF_RATIO = 0.6  # paper on one half this much darker than on the other: too dark there
DARK_PAPER = 70.0  # paper darker than this (0-255) before evening the light cannot be read well
GLARE_SHARE = 0.01
WHITE_SURROUND = 215.0  # paper-white all around the page found: a scan's margin or a drawn picture
EVEN_LIGHT_RANGE = 1.15  # a picture whose paper varies less than this in brightness is left as it is
PORTRAIT = 1.1  # a page is turned a quarter only when the picture is this much taller than wide  # clipped-white blobs covering this share of the page: glare

SIDES = ("top", "right", "bottom", "left")


@dataclass
class PageInfo:
    """What ``flatten`` found and did. Coordinates are pixels of the picture it was given."""

    found: bool = False  # the page's edges were seen (or given) and the page was flattened
    method: str = "none"  # "edges" (found), "given" (corners passed in), "none"
    corners: list | None = None  # [[x, y] * 4] TL, TR, BR, BL in the input picture; None: whole picture
    size: tuple = (0, 0)  # (width, height) of the flat page returned
    homography: list | None = None  # 3x3, input picture -> flat page (before the bend correction)
    bend_px: float = 0.0  # largest bow of the page's edges that was straightened (flat-page pixels)
    spacing_fixed: float = 0.0  # largest relative change of the grid's spacing evened out (0.05: 5 %)
    y_stretch: float = 1.0  # the page's height was scaled by this to make the grid's squares square
    rotated_90: int = 0  # quarter turns (counter-clockwise) applied to make the traces horizontal
    light_range: float = 1.0  # brightest / darkest paper before evening the light
    glare_share: float = 0.0
    cut_off: list = field(default_factory=list)  # sides where the page runs out of the picture
    dark_side: str | None = None  # "left", "right", "top", "bottom" half too dark
    steep_view: bool = False
    advice: list = field(default_factory=list)  # sentences a person can act on
    notes: list = field(default_factory=list)

    # How a flat-page pixel maps back to the input picture (not part of to_dict):
    # "maps" (src_x, src_y arrays), else "inverse" (3x3), else identity; then the quarter turn.
    _back: dict = field(default_factory=dict, repr=False)

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if not k.startswith("_")}

    def to_picture(self, points) -> np.ndarray:
        """Return flat-page points [[x, y], ...] as pixels of the picture ``flatten`` was given."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2).copy()
        if self.rotated_90:  # undo np.rot90(page, 1): (x, y) <- (W_before - 1 - y, x)
            w_before = self._back["width_before_turn"]
            pts = np.stack([w_before - 1 - pts[:, 1], pts[:, 0]], axis=1)
        if "y_stretch" in self._back:
            pts = np.stack([pts[:, 0], pts[:, 1] / self._back["y_stretch"]], axis=1)
        if "spacing" in self._back:
            sx, sy = self._back["spacing"]
            pts = np.stack([np.interp(pts[:, 0], np.arange(sx.size), sx),
                            np.interp(pts[:, 1], np.arange(sy.size), sy)], axis=1)
        if "maps" in self._back:
            src_x, src_y = self._back["maps"]
            h, w = src_x.shape
            xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
            yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
            return np.stack([src_x[yi, xi], src_y[yi, xi]], axis=1).astype(np.float64)
        if "inverse" in self._back:
            inv = self._back["inverse"]
            ph = np.c_[pts, np.ones(len(pts))] @ inv.T
            return ph[:, :2] / ph[:, 2:3]
        return pts


def flatten(rgb: np.ndarray, corners=None, *, even_light: bool = True, unbend: bool = True):
    """Return (flat page as float RGB 0-255, :class:`PageInfo`) of a photographed or scanned page.

    ``corners``: the page's four corners [[x, y] * 4] (TL, TR, BR, BL) in ``rgb``'s pixels, e.g.
    from a crop step; by default they are sought (``find_corners``). A picture without visible page
    edges is returned unwarped, with only its light evened.
    """
    import cv2

    info = PageInfo()
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    info.size = (w, h)
    if min(h, w) < 64:
        return rgb.astype(np.float64), info
    small, f = _reduced(rgb)
    found = None
    if corners is not None:
        quad = np.asarray(corners, dtype=np.float64).reshape(4, 2)
        info.method, info.found = "given", True
    else:
        found = find_corners(small)
        quad = None if found is None else found[0] / f
        if quad is not None:
            info.method, info.found = "edges", True
            info.cut_off = found[1]
    _light_facts(small, None if quad is None else quad * f, info)
    if quad is not None:
        info.corners = [[round(float(x), 1), round(float(y), 1)] for x, y in quad]
        info.steep_view = _steep(quad)
        out_w, out_h = _target_size(quad)
        dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], np.float64)
        hom = cv2.getPerspectiveTransform(quad.astype(np.float32), dst.astype(np.float32))
        info.homography = hom.tolist()
        maps = _unbend(rgb, hom, out_w, out_h) if info.method == "edges" and unbend else None
        if maps is None:
            page = cv2.warpPerspective(rgb, hom, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REPLICATE)
        else:
            # One resampling of the picture: flat page -> straightened rectangle -> picture.
            (map_x, map_y), info.bend_px = maps
            inv = np.linalg.inv(hom)
            den = inv[2, 0] * map_x + inv[2, 1] * map_y + inv[2, 2]
            src_x = ((inv[0, 0] * map_x + inv[0, 1] * map_y + inv[0, 2]) / den).astype(np.float32)
            src_y = ((inv[1, 0] * map_x + inv[1, 1] * map_y + inv[1, 2]) / den).astype(np.float32)
            page = cv2.remap(rgb, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            info._back["maps"] = (src_x, src_y)
        if "maps" not in info._back:
            info._back["inverse"] = np.linalg.inv(hom)
        if unbend and info.method == "edges":
            page, spacing = _even_spacing(page)
            if spacing is not None:
                info._back["spacing"] = spacing[:2]
                info.spacing_fixed = spacing[2]
        if info.method in ("edges", "given"):
            page, stretch = _square_grid(page)
            if stretch != 1.0:
                info._back["y_stretch"] = stretch
                info.y_stretch = stretch
                out_h = page.shape[0]
        info.size = (out_w, out_h)
        angle = np.degrees(np.arctan2(quad[1, 1] - quad[0, 1], quad[1, 0] - quad[0, 0]))
        info.notes.append(
            "The page was found in the photo and flattened (perspective corrected"
            + (f", a bend of {info.bend_px:.0f} pixels straightened" if info.bend_px >= BEND_MIN_PX else "")
            + f"; it lay {abs(angle):.1f} degrees off level)")
        rgb = page
    if even_light and (quad is not None or info.light_range >= EVEN_LIGHT_RANGE):
        rgb = _even_light(rgb)
        info.notes.append("Uneven lighting across the page was evened out")
    turns = _quarter_turns(rgb) if rgb.shape[0] > PORTRAIT * rgb.shape[1] else 0
    if turns:
        info._back["width_before_turn"] = rgb.shape[1]
        rgb = np.ascontiguousarray(np.rot90(rgb, turns))
        info.rotated_90 = turns
        info.notes.append("The page was turned a quarter turn so that its traces run across")
        info.size = (rgb.shape[1], rgb.shape[0])
    info.advice = _advice(info)
    return rgb.astype(np.float64), info


# --- finding the paper -----------------------------------------------------------------------


def _reduced(rgb):
    import cv2

    h, w = rgb.shape[:2]
    f = min(1.0, DETECT_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
    return small, f


def find_corners(small: np.ndarray):
    """Return (corners 4x2 TL TR BR BL in ``small``'s pixels, cut-off sides) of the page, or None.

    Two views of the paper are tried: the outline of the sharp edges in the picture (a shadow's
    edge is soft, the paper's is sharp) and the largest bright, nearly grey region. A candidate
    counts only when it is a plausible quadrilateral (convex, corners within 35 degrees of square,
    a fifth of the picture or more, not the whole frame) and a sharp edge runs along most of its
    outline. None when the paper fills the frame or no page-shaped region stands out.
    """
    import cv2

    h, w = small.shape[:2]
    lum = small @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = small.max(axis=2) - small.min(axis=2)
    grey = cv2.GaussianBlur(lum, (0, 0), 1.5)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    hi = max(40.0, float(np.percentile(mag, 90)))
    edges = cv2.Canny(np.clip(grey, 0, 255).astype(np.uint8), 0.4 * hi / 4, hi / 4, L2gradient=True)
    k = max(3, round(min(h, w) / 60)) | 1
    near_edge = cv2.dilate(edges, np.ones((5, 5), np.uint8)) > 0
    candidates = []
    blob = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    blob = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    candidates.append(_outline(blob > 0, h, w))
    score = cv2.GaussianBlur(lum - 0.5 * sat, (0, 0), 2.0)
    thr, _ = cv2.threshold(np.clip(score, 0, 255).astype(np.uint8), 0, 255,
                           cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = (score > thr).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    candidates.append(_outline(mask > 0, h, w))
    best = None
    for cand in candidates:
        if cand is None:
            continue
        quad, filled = cand
        support = _edge_support(quad, near_edge, h, w)
        if support < 0.6 or _contrast_across(quad, lum, sat, k) < MIN_EDGE_CONTRAST:
            continue
        area = cv2.contourArea(quad.astype(np.float32))
        if best is None or area > best[2]:
            best = (quad, filled, area)
    if best is None:
        return None
    # A white surround is the margin of a scan or of a drawn picture, not a table: nothing to flatten.
    outside = best[1] == 0
    if outside.mean() > 0.03 and np.median(lum[outside]) > WHITE_SURROUND and np.median(sat[outside]) < 25:
        return None
    return best[0], _touching_sides(best[1], h, w)


def _outline(mask, h, w):
    """Return (quadrilateral, filled region) of the largest region of ``mask``, or None."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if count < 2:
        return None
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == big).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cnt = max(contours, key=cv2.contourArea)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, [cnt], -1, 1, thickness=-1)
    area = float(filled.sum())
    if area < MIN_PAGE_SHARE * h * w or area > FILLS_FRAME_SHARE * h * w:
        return None
    hull = cv2.convexHull(cnt)
    peri = cv2.arcLength(hull, True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float64)
            break
    if quad is None:  # a corner cut off by the frame, a bowed edge: the hull's extreme corners
        quad = _quad_from_hull(hull.reshape(-1, 2).astype(np.float64))
    quad = _order(quad)
    if not _plausible(quad, h, w):
        return None
    return quad, filled


def _contrast_across(quad, lum, sat, k) -> float:
    """Return how much the inside of the quadrilateral's outline differs from its outside (0-255).

    The median brightness and saturation just inside and just outside the outline, where the
    outline is inside the frame: paper on a table differs; a rectangle drawn by the grid lines of
    a page that fills the frame does not.
    """
    import cv2

    h, w = lum.shape
    filled = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(filled, np.round(quad).astype(np.int32), 1)
    kern = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
    frame = _not_border(h, w)
    ring_in = (filled - cv2.erode(filled, kern)).astype(bool) & frame
    ring_out = (cv2.dilate(filled, kern) - filled).astype(bool) & frame
    if ring_in.sum() < 20 or ring_out.sum() < 20:
        return 0.0
    d_lum = abs(float(np.median(lum[ring_in])) - float(np.median(lum[ring_out])))
    d_sat = abs(float(np.median(sat[ring_in])) - float(np.median(sat[ring_out])))
    return d_lum + d_sat


def _edge_support(quad, near_edge, h, w) -> float:
    """Return the share of the quadrilateral's outline (inside the frame) that runs along an edge."""
    pts = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        n = max(2, int(np.linalg.norm(b - a)))
        t = np.linspace(0.0, 1.0, n)[:, None]
        pts.append(a + t * (b - a))
    pts = np.round(np.concatenate(pts)).astype(int)
    inside = (pts[:, 0] >= 3) & (pts[:, 0] < w - 3) & (pts[:, 1] >= 3) & (pts[:, 1] < h - 3)
    if inside.mean() < 0.15:  # the page runs out of the frame on most sides
        return 0.0
    p = pts[inside]
    return float(near_edge[p[:, 1], p[:, 0]].mean())


def _not_border(h, w):
    m = np.ones((h, w), bool)
    m[:2, :] = m[-2:, :] = False
    m[:, :2] = m[:, -2:] = False
    return m


def _quad_from_hull(pts):
    """Return the 4 hull points extreme along the diagonals (TL, TR, BR, BL by x+y and x-y)."""
    s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
    return np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]])


def _order(quad):
    """Return the corners ordered TL, TR, BR, BL (clockwise from the top-left)."""
    c = quad.mean(axis=0)
    ang = np.arctan2(quad[:, 1] - c[1], quad[:, 0] - c[0])
    q = quad[np.argsort(ang)]  # clockwise in image coordinates, starting near the left
    start = int(np.argmin(q.sum(axis=1)))
    return np.roll(q, -start, axis=0)


def _angles(quad):
    out = []
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = np.dot(u, v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-9)
        out.append(float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    return out


def _plausible(quad, h, w) -> bool:
    import cv2

    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    if max(abs(a - 90.0) for a in _angles(quad)) > MAX_CORNER_ANGLE_DEV:
        return False
    return cv2.contourArea(quad.astype(np.float32)) >= MIN_PAGE_SHARE * h * w


def _steep(quad) -> bool:
    e = [np.linalg.norm(quad[(i + 1) % 4] - quad[i]) for i in range(4)]
    ratio = max(max(e[0], e[2]) / max(min(e[0], e[2]), 1e-9), max(e[1], e[3]) / max(min(e[1], e[3]), 1e-9))
    return bool(ratio > STEEP_VIEW_RATIO or max(abs(a - 90.0) for a in _angles(quad)) > STEEP_VIEW_ANGLE)


def _target_size(quad):
    e = [np.linalg.norm(quad[(i + 1) % 4] - quad[i]) for i in range(4)]
    return max(16, int(round(max(e[0], e[2])))), max(16, int(round(max(e[1], e[3]))))


def _touching_sides(mask, h, w, share=0.25):
    """Return the sides of the picture along which the page mask runs for over ``share`` of it."""
    runs = {"top": mask[:2].any(axis=0).mean(), "bottom": mask[-2:].any(axis=0).mean(),
            "left": mask[:, :2].any(axis=1).mean(), "right": mask[:, -2:].any(axis=1).mean()}
    return [s for s in SIDES if runs[s] > share]


# --- bend --------------------------------------------------------------------------------------


def _edge_curve(inside: np.ndarray, axis: int, from_start: bool):
    """Return, per column (axis 0) or row (axis 1), the first paper pixel from one side, or NaN."""
    return _first_true(inside if axis == 0 else inside.T, from_start)


def _first_true(mask: np.ndarray, from_start: bool):
    """Return per column the first row where ``mask`` is true, counted from the top
    (``from_start``) or from the bottom, as a row index; NaN where the column has none."""
    m = mask if from_start else mask[::-1]
    has = m.any(axis=0)
    first = np.argmax(m, axis=0).astype(np.float64)
    if not from_start:
        first = m.shape[0] - 1 - first
    first[~has] = np.nan
    return first


def _edge_from_gradient(grad: np.ndarray, *, from_start: bool):
    """Return per column the first row (from the outside) where the paper's edge brightens, or NaN.

    ``grad``: rows x columns, positive where the picture brightens towards the page's inside. The
    edge is the outermost row reaching half the column's strongest such step (and a step of at
    least 40 grey levels per 8 pixels, the Sobel scale): the paper's edge, not a line printed on it.
    """
    return _first_true(grad >= np.maximum(0.5 * grad.max(axis=0), 40.0)[None, :], from_start)


def _smooth_curve(y, n_out, deg=3):
    """Return a smooth (polynomial, robust) version of ``y`` sampled at ``n_out`` points."""
    x = np.linspace(0.0, 1.0, y.size)
    ok = ~np.isnan(y)
    if ok.sum() < max(10, 0.5 * y.size):
        return None
    xs, ys = x[ok], y[ok]
    keep = np.ones(xs.size, bool)
    for _ in range(3):
        coef = np.polyfit(xs[keep], ys[keep], deg)
        res = ys - np.polyval(coef, xs)
        mad = np.median(np.abs(res[keep])) + 0.5
        keep = np.abs(res) <= 3.0 * mad
    return np.polyval(coef, np.linspace(0.0, 1.0, n_out))


def _unbend(rgb, hom, out_w, out_h):
    """Return ((map_x, map_y) flat page -> rectified-page pixels, largest bow in pixels), or None.

    The picture's brightness is warped like the page, with a margin around it; each of the four
    edges is traced, column by column (row by row), as the outermost step where the picture
    brightens towards the page (the paper's edge on a darker table; a shadow's edge is too soft),
    smoothed by a robust cubic fit, and straightened by a Coons patch: every edge curve is mapped
    onto the rectangle's side and the inside blended linearly between them.
    """
    import cv2

    margin = max(8, int(0.04 * max(out_w, out_h)))
    shift = np.array([[1, 0, margin], [0, 1, margin], [0, 0, 1]], np.float64)
    big_w, big_h = out_w + 2 * margin, out_h + 2 * margin
    # The picture's brightness, reduced for speed: the edge curves are smooth.
    small, f = _reduced(rgb)
    lum = small @ np.array([0.299, 0.587, 0.114], np.float32)
    scale = np.diag([1.0 / f, 1.0 / f, 1.0])
    m_hom = shift @ hom @ scale
    g = min(1.0, 800.0 / max(big_w, big_h))
    red = np.diag([g, g, 1.0]) @ m_hom
    rw, rh = max(8, int(big_w * g)), max(8, int(big_h * g))
    warped = cv2.warpPerspective(lum, red, (rw, rh), flags=cv2.INTER_LINEAR, borderValue=-1.0)
    seen = cv2.warpPerspective(np.ones(lum.shape, np.float32), red, (rw, rh), flags=cv2.INTER_NEAREST,
                               borderValue=0) > 0.5
    warped = cv2.GaussianBlur(np.where(seen, warped, 0.0).astype(np.float32), (0, 0), 1.2)
    mg = margin * g
    band = int(round(mg + max(mg, 0.1 * min(rw, rh))))
    d_down = cv2.Sobel(warped, cv2.CV_32F, 0, 1, ksize=3)  # + where it brightens downwards
    d_right = cv2.Sobel(warped, cv2.CV_32F, 1, 0, ksize=3)
    # The frame's own border (where the picture ends) is no edge of the paper.
    rim = cv2.dilate((~seen).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    d_down[rim] = 0.0
    d_right[rim] = 0.0
    top = _edge_from_gradient(d_down[:band], from_start=True)
    bottom = _edge_from_gradient(-d_down[rh - band:], from_start=False) + (rh - band)
    left = _edge_from_gradient(d_right[:, :band].T, from_start=True)
    right = _edge_from_gradient(-d_right[:, rw - band:].T, from_start=False) + (rw - band)
    # Columns / rows of the rectangle's span only (in reduced pixels), then back to flat-page pixels.
    xs = slice(int(mg), int(mg + out_w * g))
    ys = slice(int(mg), int(mg + out_h * g))
    curves = []
    for c, n in ((top[xs], out_w), (bottom[xs], out_w), (left[ys], out_h), (right[ys], out_h)):
        s = _smooth_curve(c, n)
        curves.append(None if s is None else s / g - margin)
    t, b, l, r = curves
    # Only the bow beyond what a straight edge would give (the quad's own corners are on the line).
    bows = []
    for c in curves:
        if c is not None:
            line = np.linspace(c[0], c[-1], c.size)
            bows.append(float(np.max(np.abs(c - line))))
    bow = max(bows) if bows else 0.0
    if bow < BEND_MIN_PX or bow > 0.15 * min(out_w, out_h):
        return None
    t = t if t is not None else np.zeros(out_w)
    b = b if b is not None else np.full(out_w, out_h - 1.0)
    l = l if l is not None else np.zeros(out_h)
    r = r if r is not None else np.full(out_h, out_w - 1.0)
    # Coons patch with edges parametrised between their shared corners: it reduces to blending
    # the left and right curves for x and the top and bottom curves for y.
    u = np.linspace(0.0, 1.0, out_w, dtype=np.float32)[None, :]
    v = np.linspace(0.0, 1.0, out_h, dtype=np.float32)[:, None]
    map_x = (1 - u) * l[:, None].astype(np.float32) + u * r[:, None].astype(np.float32)
    map_y = (1 - v) * t[None, :].astype(np.float32) + v * b[None, :].astype(np.float32)
    return (map_x, map_y), round(bow, 1)


# --- even spacing (a curl foreshortens the grid towards the curled edge) --------------------------

SPACING_WINDOWS = 12
MIN_SPACING_CHANGE = 0.015  # periods varying less than 1.5 % across the page are left alone


def _local_periods(lines, axis):
    """Return (window centres, grid period in each window, NaN where none) along ``axis``."""
    from ml.io.image import _grid_period

    n = lines.shape[1] if axis == 1 else lines.shape[0]
    edges = np.linspace(0, n, SPACING_WINDOWS + 1).astype(int)
    centres, periods = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        prof = lines[:, a:b].mean(axis=0) if axis == 1 else lines[a:b].mean(axis=1)
        got = _grid_period(prof) if prof.size >= 64 else None
        centres.append((a + b - 1) / 2.0)
        periods.append(got[0] if got else np.nan)
    return np.array(centres), np.array(periods)


def _spacing_map(n, centres, periods):
    """Return the source coordinate for each of ``n`` output pixels that evens the period, or None."""
    ok = ~np.isnan(periods)
    if ok.sum() < SPACING_WINDOWS // 2:
        return None, 0.0
    med = np.median(periods[ok])
    good = ok & (np.abs(periods - med) < 0.25 * med)  # 1-mm vs 5-mm confusions left out
    if good.sum() < SPACING_WINDOWS // 2:
        return None, 0.0
    coef = np.polyfit(centres[good] / n, periods[good], 2)
    x = np.arange(n, dtype=np.float64)
    p = np.clip(np.polyval(coef, x / n), 0.5 * med, 2.0 * med)
    change = float((p.max() - p.min()) / med)
    if change < MIN_SPACING_CHANGE:
        return None, 0.0
    # Squares counted from the left edge: s(x) = integral of 1 / p; output pixel x' shows s = x' / p0.
    s = np.concatenate([[0.0], np.cumsum(0.5 * (1.0 / p[1:] + 1.0 / p[:-1]))])
    target = np.linspace(0.0, s[-1], n)
    return np.interp(target, s, x).astype(np.float32), change


def _even_spacing(page):
    """Return (page with an even grid spacing across it, (x map, y map, change) or None)."""
    import cv2

    h, w = page.shape[:2]
    r, g, b = page[..., 0], page[..., 1], page[..., 2]
    lines = (np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)) + 0.3 * (255.0 - (r + g + b) / 3.0)
    cx, px = _local_periods(lines, 1)
    cy, py = _local_periods(lines, 0)
    mx, chx = _spacing_map(w, cx, px)
    my, chy = _spacing_map(h, cy, py)
    if mx is None and my is None:
        return page, None
    mx = mx if mx is not None else np.arange(w, dtype=np.float32)
    my = my if my is not None else np.arange(h, dtype=np.float32)
    map_x = np.broadcast_to(mx[None, :], (h, w)).astype(np.float32)
    map_y = np.broadcast_to(my[:, None], (h, w)).astype(np.float32)
    out = cv2.remap(page, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, (mx, my, round(max(chx, chy), 3))


MAX_STRETCH = 1.25  # the page's proportions from its corners are off by at most this


def _square_grid(page):
    """Return (page scaled vertically so the grid's squares are square, the scale applied).

    The page's proportions come from its corners seen in perspective and are only roughly right;
    paper ECG grids are square, so the vertical grid period is made equal to the horizontal one
    (which sets the time scale). Left alone when either period is not found or they differ by a
    factor suggesting the 1-mm and 5-mm spacings were confused.
    """
    import cv2

    from ml.io.image import _grid_period

    r, g, b = page[..., 0], page[..., 1], page[..., 2]
    lines = (np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)) + 0.3 * (255.0 - (r + g + b) / 3.0)
    px = _grid_period(lines.mean(axis=0))
    py = _grid_period(lines.mean(axis=1))
    if not px or not py:
        return page, 1.0
    stretch = px[0] / py[0]
    if not (1 / MAX_STRETCH <= stretch <= MAX_STRETCH) or abs(stretch - 1.0) < 0.01:
        return page, 1.0
    h, w = page.shape[:2]
    new_h = max(16, int(round(h * stretch)))
    out = cv2.resize(page, (w, new_h), interpolation=cv2.INTER_LINEAR)
    return out, round(new_h / h, 4)


def blur_mm(rgb: np.ndarray, px_per_mm: float) -> float:
    """Return the width (mm of paper) of the sharpest edges' ramp: ~0.5 sharp, over 2 blurred."""
    lum = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    gy, gx = np.gradient(lum)
    steep = float(np.percentile(np.hypot(gx, gy), 99.8))
    return float(np.ptp(lum)) / max(steep, 1e-6) / max(px_per_mm, 1e-6)


BLURRED_MM = 2.0


# --- light -------------------------------------------------------------------------------------


def paper_colour(rgb: np.ndarray) -> np.ndarray:
    """Return the paper's local colour per pixel and channel (background estimation).

    Each channel's local maximum over about a twentieth of the page (wider than any trace or grid
    line, narrower than a shadow's edge) on a reduced picture, smoothed and enlarged back.
    """
    import cv2

    h, w = rgb.shape[:2]
    f = min(1.0, 480.0 / max(h, w))
    small = cv2.resize(rgb.astype(np.float32), (max(8, round(w * f)), max(8, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    k = max(3, round(max(small.shape[:2]) / 40)) | 1
    bg = cv2.dilate(small, np.ones((k, k), np.uint8))
    bg = cv2.GaussianBlur(bg, (0, 0), k)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def _even_light(rgb):
    bg = paper_colour(rgb)
    out = rgb.astype(np.float32) * (255.0 / np.maximum(bg, 8.0))
    return np.clip(out, 0.0, 255.0)


def _light_facts(small, quad, info):
    """Fill ``info``'s light range, dark half and glare share from the reduced picture."""
    import cv2

    h, w = small.shape[:2]
    lum = small @ np.array([0.299, 0.587, 0.114], np.float32)
    inside = np.ones((h, w), bool)
    if quad is not None:
        m = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(m, quad.astype(np.int32), 1)
        inside = m > 0
    k = max(3, round(max(h, w) / 40)) | 1
    paper = cv2.dilate(lum, np.ones((k, k), np.uint8))
    vals = paper[inside]
    if vals.size == 0:
        return
    hi, lo = np.percentile(vals, 95), np.percentile(vals, 5)
    info.light_range = round(float(hi / max(lo, 1.0)), 2)
    halves = {"left": inside[:, : w // 2], "right": inside[:, w // 2:], "top": inside[: h // 2],
              "bottom": inside[h // 2:]}
    parts = {"left": paper[:, : w // 2], "right": paper[:, w // 2:], "top": paper[: h // 2],
             "bottom": paper[h // 2:]}
    med = {s: float(np.median(parts[s][halves[s]])) if halves[s].any() else None for s in halves}
    for a, b in (("left", "right"), ("right", "left"), ("top", "bottom"), ("bottom", "top")):
        if med[a] is not None and med[b] is not None and (
                med[a] < DARK_HALF_RATIO * med[b] or (med[a] < DARK_PAPER <= med[b])):
            info.dark_side = a
            break
    clipped = (small.min(axis=2) >= 250).astype(np.uint8) & inside
    n, lab, stats, _ = cv2.connectedComponentsWithStats(clipped)
    blobs = stats[1:, cv2.CC_STAT_AREA] if n > 1 else np.array([])
    big = blobs[blobs >= 0.002 * h * w].sum() if blobs.size else 0
    # White paper is close to clipped everywhere on a scan: glare is clipped amid darker paper.
    if np.median(lum[inside]) < 225:
        info.glare_share = round(float(big / max(inside.sum(), 1)), 3)


# --- upright ---------------------------------------------------------------------------------


def _quarter_turns(rgb) -> int:
    """Return 1 when the page's traces run vertically (turn a quarter), else 0."""
    import cv2

    h, w = rgb.shape[:2]
    f = min(1.0, 800.0 / max(h, w))
    small = cv2.resize(rgb.astype(np.float32), (max(8, round(w * f)), max(8, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    lum = small @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = small.max(axis=2) - small.min(axis=2)
    dark = ((lum < 110) & (sat < 60)).astype(np.uint8)
    if dark.mean() < 0.002 or dark.mean() > 0.25:
        return 0
    # Long straight printed lines (borders, the header's rule) are not traces.
    long_h = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, max(3, small.shape[1] // 5)), np.uint8))
    long_v = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((max(3, small.shape[0] // 5), 1), np.uint8))
    ink = dark & ~(long_h | long_v).astype(bool)
    # Traces run across: a row band holds ink in most columns; sideways, a column band does.
    band = max(3, round(0.02 * max(small.shape)))
    rows = cv2.dilate(ink.astype(np.uint8), np.ones((band, 1), np.uint8)).mean(axis=1)
    cols = cv2.dilate(ink.astype(np.uint8), np.ones((1, band), np.uint8)).mean(axis=0)
    across = np.sort(rows)[-3:].mean() if rows.size >= 3 else 0.0
    down = np.sort(cols)[-3:].mean() if cols.size >= 3 else 0.0
    return 1 if (down > 0.6 and down > 1.6 * across) else 0


# --- straightness (the measure of the flattening) ---------------------------------------------


def measure_straightness(rgb: np.ndarray, px_per_mm: float, *, strips: int = 8):
    """Return (wobble in mm, spacing spread) of the page's grid lines.

    Wobble: the page is cut into ``strips`` vertical strips; in each, the grid's row profile is
    cross-correlated with the middle strip's (within half a 5-mm square). Straight horizontal lines
    give the same offset in every strip: the wobble is the range of the offsets in mm. Spread: the
    grid period measured in 12 windows along each axis; the relative range (max - min) / median
    over both axes (0.05: the squares differ by 5 % across the page).
    """
    from scipy import ndimage

    h, w = rgb.shape[:2]
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    # Grid ink: coloured or grey lines; the profile is its mean along each strip's rows.
    lines = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b) + (255.0 - (r + g + b) / 3) * 0.3
    cut = np.array_split(np.arange(w), strips)
    profs = []
    for c in cut:
        p = lines[:, c].mean(axis=1)
        p = p - ndimage.uniform_filter1d(p, size=max(5, int(10 * px_per_mm)))
        profs.append(p)
    mid = profs[strips // 2]
    reach = max(2, int(round(2.5 * px_per_mm)))
    offsets = []
    for p in profs:
        cc = [float(np.dot(mid[max(0, s): h + min(0, s)], p[max(0, -s): h - max(0, s)])) for s in range(-reach, reach + 1)]
        offsets.append(int(np.argmax(cc)) - reach)
    wobble = (max(offsets) - min(offsets)) / px_per_mm
    spreads = []
    for axis in (0, 1):
        _, per = _local_periods(lines, axis)
        per = per[~np.isnan(per)]
        if per.size >= 3:
            med = np.median(per)
            per = per[np.abs(per - med) < 0.25 * med]  # a window read at the 5-mm spacing left out
            spreads.append((per.max() - per.min()) / med)
    spread = max(spreads) if spreads else None
    return round(float(wobble), 2), None if spread is None else round(float(spread), 3)


# --- advice ------------------------------------------------------------------------------------


def _advice(info: PageInfo) -> list:
    out = []
    for side in info.cut_off:
        out.append(f"the page is cut off at the {side}: fit the whole page in the photo")
    if info.dark_side:
        out.append(f"the {info.dark_side} half is too dark: take the photo in even light, without "
                   "the phone's shadow on the page")
    if info.glare_share >= GLARE_SHARE:
        out.append("light reflects off the page (glare): turn the page or the lamp so that no "
                   "bright patch covers the trace, and switch off the flash")
    if info.steep_view:
        out.append("the photo was taken at an angle: photograph the page from straight above")
    return out
