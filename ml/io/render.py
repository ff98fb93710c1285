"""Draw synthetic ECG reports from signals, and photograph them synthetically.

This is ground truth for the image reader: the tests (ml/tests/test_io_images*.py) and the round-trip
benchmark (bench/bench_image_reading.py) render a record whose beats are known, distort the picture
the way a scanner or phone does, read it back with ``ml.io.load`` and compare. It lives beside the
reader so both import one drawing of "a report"; the worker never imports it (matplotlib is
imported lazily).

Layouts: ``"3x4+rhythm"`` (the usual 12-lead print: three rows of four 2.5 s leads and a 10 s lead II
rhythm strip, a calibration pulse at the start of each row, a header with a double line under it and
a footer) and ``"strip"`` (one 10 s strip with its calibration pulse). 25 mm/s, 10 mm/mV, pink grid.
"""

from dataclasses import dataclass

import numpy as np

SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0
LEAD_GRID = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))


@dataclass
class Rendered:
    """A rendered report: the RGB picture and where its rhythm strip came from."""

    image: np.ndarray  # uint8 RGB
    dpi: float
    rhythm: np.ndarray  # the lead II signal (mV) drawn as the rhythm strip / single strip
    fs: float
    pulse_x_mm: tuple  # (start, end) of the rhythm strip's calibration pulse, mm from the left


def twelve_leads(a, b):
    """Return a dict lead -> signal built from two recorded channels (MLII ``a`` and ``b``).

    Not a real 12-lead ECG (the databases have two leads): plausible mixtures, so each panel shows
    a different trace, with lead II exactly ``a``.
    """
    return {
        "I": 0.6 * a + 0.2 * b, "II": a, "III": 0.4 * a - 0.2 * b,
        "aVR": -0.8 * a - 0.1 * b, "aVL": 0.1 * a + 0.3 * b, "aVF": 0.7 * a - 0.1 * b,
        "V1": -0.5 * a + 0.6 * b, "V2": 0.3 * a + 0.9 * b, "V3": 0.8 * a + 0.5 * b,
        "V4": 1.1 * a + 0.2 * b, "V5": 0.9 * a, "V6": 0.7 * a + 0.1 * b,
    }


def render_report(leads, fs, *, layout="3x4+rhythm", dpi=150, header=True, paper="pink",
                  trace_lw=0.9, rhythm_lead="II", gain_mm_mv=GAIN_MM_MV):
    """Return a :class:`Rendered` report of ``leads`` (dict name -> >= 10 s of signal in mV)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    n10 = int(round(10.0 * fs))
    rhythm = np.asarray(leads[rhythm_lead], dtype=np.float64)[:n10]
    if layout == "strip":
        width_mm, height_mm = 280.0, 70.0 + (25.0 if header else 0.0)
        rows = [(30.0, [(rhythm_lead, 0.0, 10.0)])]
    else:
        width_mm, height_mm = 297.0, 210.0
        rows = [(150.0 - 35.0 * r, [(name, 2.5 * c, 2.5) for c, name in enumerate(LEAD_GRID[r])])
                for r in range(3)]
        rows.append((30.0, [(rhythm_lead, 0.0, 10.0)]))
    fig = plt.figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width_mm)
    ax.set_ylim(0, height_mm)
    ax.axis("off")
    grid_top = height_mm - (25.0 if header else 5.0)
    small, big = {"pink": ("#f7c6c6", "#e58e8e"), "grey": ("#d8d8d8", "#a8a8a8")}[paper]
    fig.patch.set_facecolor("white")
    segs_s, segs_b = [], []
    for mm in np.arange(5.0, width_mm - 4.0, 1.0):
        (segs_b if round(mm) % 5 == 0 else segs_s).append([(mm, 5.0), (mm, grid_top)])
    for mm in np.arange(5.0, grid_top + 0.01, 1.0):
        (segs_b if round(mm) % 5 == 0 else segs_s).append([(5.0, mm), (width_mm - 5.0, mm)])
    ax.add_collection(LineCollection(segs_s, colors=small, linewidths=0.35, zorder=0))
    ax.add_collection(LineCollection(segs_b, colors=big, linewidths=0.8, zorder=0))
    if header:
        ax.text(8, height_mm - 8, "ID: 0042  Name: TEST, PATIENT   Vent. rate  ---  PR int ---  QRS dur ---",
                fontsize=9, va="center", family="monospace")
        ax.text(8, height_mm - 15, "Sinus rhythm?  Unconfirmed report   Referred by: Dr. Example",
                fontsize=8, va="center", family="monospace")
        for dy in (20.0, 21.2):  # the printed double line under the header
            ax.plot([5, width_mm - 5], [height_mm - dy, height_mm - dy], color="black", lw=1.0)
        ax.text(8, 2.5, f"25 mm/s   {gain_mm_mv:g} mm/mV   0.05-150 Hz   50 Hz", fontsize=7, va="center",
                family="monospace")
    x0 = 12.0  # the traces start after the calibration pulse
    pulse = (0.0, 0.0)
    for base, panels in rows:
        # Calibration pulse: 1 mV (10 mm) high, 0.2 s (5 mm) wide.
        px = [5.5, 7.0, 7.0, 12.0, 12.0, x0]
        py = [base, base, base + gain_mm_mv, base + gain_mm_mv, base, base]
        ax.plot(px, py, color="black", lw=trace_lw, solid_joinstyle="miter")
        pulse = (7.0, 12.0)
        for name, t0, dur in panels:
            sig = np.asarray(leads[name], dtype=np.float64)
            a, b = int(round(t0 * fs)), int(round((t0 + dur) * fs))
            seg = sig[a:b]
            t = np.arange(seg.size) / fs + t0
            y = base + (seg - np.median(rhythm)) * gain_mm_mv
            ax.plot(x0 + t * SPEED_MM_S, y, color="black", lw=trace_lw, zorder=2)
            ax.text(x0 + t0 * SPEED_MM_S + 1.5, base + 7.0, name, fontsize=8, zorder=3)
            if t0 > 0:  # the lead change mark
                ax.plot([x0 + t0 * SPEED_MM_S] * 2, [base - 2.5, base + 2.5], color="black", lw=0.8)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return Rendered(image=img, dpi=float(dpi), rhythm=rhythm, fs=float(fs), pulse_x_mm=pulse)


def photograph(img, rng, *, angle=0.0, blur=0.0, shadow=0.0, noise=0.0, scale=1.0):
    """Return ``img`` (uint8 RGB) as a scanner/phone might give it back: tilted, blurred, shaded."""
    from PIL import Image, ImageFilter

    pic = Image.fromarray(img)
    if scale != 1.0:
        pic = pic.resize((max(8, round(pic.width * scale)), max(8, round(pic.height * scale))),
                         Image.LANCZOS)
    if angle:
        pic = pic.rotate(angle, expand=True, resample=Image.BICUBIC, fillcolor=(235, 235, 235))
    if blur:
        pic = pic.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(pic, dtype=np.float64)
    if shadow:
        h, w = a.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        d = np.hypot(xx - cx, yy - cy) / np.hypot(w, h)
        a = a * (1.0 - shadow * np.clip(1.2 - 2.0 * d, 0, 1))[..., None]
    if noise:
        a = a + rng.normal(0.0, noise, a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


PHONE_SIZES = {"2MP": (1600, 1200), "5MP": (2592, 1944), "8MP": (3264, 2448), "12MP": (4032, 3024)}


def photograph_page(img, rng, *, megapixels="5MP", fill=0.8, tilt=0.0, corners=0.0, bend=0.0,
                    light=0.0, shadow=0.0, glare=0.0, blur=0.0, noise=0.0, cast=0.0,
                    background=None, cut=None, light_angle=None):
    """Return ``img`` (a rendered page, uint8 RGB) as a phone photographs it lying on a table.

    The page is placed on a textured table ``background`` (RGB, default a random mid-tone) in a
    frame of ``megapixels`` (a key of PHONE_SIZES), covering about ``fill`` of the frame's width,
    ``tilt`` degrees off level, each corner moved by up to ``corners`` of the page's size
    (perspective), the paper ``bend``-ed (its horizontal lines bow by up to that share of the page's
    height, and it is foreshortened where it curls), lit by a gradient that darkens one side by
    ``light`` (0-1), a soft-edged phone ``shadow`` (0-1 darkening), a ``glare`` patch (0-1), a colour
    ``cast`` (warm light), lens ``blur`` (sigma in pixels of the frame) and sensor ``noise``.
    ``cut``: a side ("left", "right", "top", "bottom") where the page runs out of the frame;
    ``light_angle``: the direction (degrees, 0 = towards the right) the light fades to.
    Returns (photo uint8 RGB, corners of the page in the photo [[x, y] * 4], TL TR BR BL).
    """
    import cv2

    out_w, out_h = PHONE_SIZES[megapixels] if isinstance(megapixels, str) else megapixels
    page = np.asarray(img, dtype=np.float32)
    ph, pw = page.shape[:2]
    # The page's corners in the frame: centred, scaled to ``fill``, tilted, corners jittered.
    s = fill * out_w / pw
    if s * ph > 0.92 * out_h:
        s = 0.92 * out_h / ph
    half = np.array([[-pw, -ph], [pw, -ph], [pw, ph], [-pw, ph]], np.float64) * 0.5 * s
    a = np.radians(tilt)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    quad = half @ rot.T
    quad += rng.uniform(-corners, corners, (4, 2)) * np.array([pw * s, ph * s])
    centre = np.array([out_w / 2.0, out_h / 2.0])
    if cut:
        shift = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}[cut]
        edge = np.max(np.abs(quad @ np.abs(np.array(shift, float))))
        room = (out_w / 2.0) if shift[0] else (out_h / 2.0)
        centre += np.array(shift) * (room - edge + 0.08 * (pw * s if shift[0] else ph * s))
    quad += centre
    # Inverse map: every frame pixel -> a point of the bent page -> a pixel of the flat page.
    flat_corners = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], np.float32)
    hom_inv = cv2.getPerspectiveTransform(quad.astype(np.float32), flat_corners)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    den = hom_inv[2, 0] * xx + hom_inv[2, 1] * yy + hom_inv[2, 2]
    u = (hom_inv[0, 0] * xx + hom_inv[0, 1] * yy + hom_inv[0, 2]) / den
    v = (hom_inv[1, 0] * xx + hom_inv[1, 1] * yy + hom_inv[1, 2]) / den
    off_u = (u < 0) | (u > pw - 1)
    if bend:
        # The bent page: lines bow down by bend * height * 4t(1-t) (t = u / width), more at the
        # bottom than at the top; the curled right part is foreshortened (x' = x - c t^3 ...).
        t = np.clip(u / (pw - 1), 0.0, 1.0)
        bow = bend * ph * 4.0 * t * (1.0 - t)
        v = (v - 0.7 * bow) / (1.0 + 0.6 * bow / ph)
        grid_t = np.linspace(0.0, 1.0, 512)
        squeeze = grid_t - 0.6 * bend * grid_t ** 3 * (1 - grid_t) * 4  # monotone for bend < 0.2
        u = np.interp(t, squeeze, grid_t) * (pw - 1)
    outside = off_u | (v < 0) | (v > ph - 1)
    u, v = u.astype(np.float32), v.astype(np.float32)
    photo = cv2.remap(page, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if background is None:
        background = rng.uniform(60, 170, 3)
    table = np.ones((out_h, out_w, 3), np.float32) * np.asarray(background, np.float32)
    grain = cv2.GaussianBlur(rng.normal(0, 12, (out_h // 8 + 1, out_w // 8 + 1)).astype(np.float32), (0, 0), 2)
    table += cv2.resize(grain, (out_w, out_h))[..., None]
    photo[outside] = table[outside]
    # Light: a gradient across the frame, a soft phone shadow, a glare patch, a warm cast.
    gain = np.ones((out_h, out_w), np.float32)
    if light:
        ang = rng.uniform(0, 2 * np.pi) if light_angle is None else np.radians(light_angle)
        d = ((xx - out_w / 2) * np.cos(ang) + (yy - out_h / 2) * np.sin(ang)) / max(out_w, out_h)
        gain *= 1.0 - light * np.clip(d + 0.5, 0, 1)
    if shadow:
        cx, cy = rng.uniform(0.2, 0.8) * out_w, rng.uniform(0.2, 0.8) * out_h
        rx, ry = rng.uniform(0.15, 0.3) * out_w, rng.uniform(0.2, 0.4) * out_h
        m = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1.0).astype(np.float32)
        m = cv2.GaussianBlur(m, (0, 0), 0.03 * out_w)
        gain *= 1.0 - shadow * m
    photo *= gain[..., None]
    if cast:
        photo *= np.array([1.0, 1.0 - 0.4 * cast, 1.0 - cast], np.float32)
    if glare:
        gx, gy = rng.uniform(0.3, 0.7) * out_w, rng.uniform(0.3, 0.7) * out_h
        g = np.exp(-(((xx - gx) / (0.06 * out_w)) ** 2 + ((yy - gy) / (0.06 * out_w)) ** 2))
        photo += (glare * 255.0 * g)[..., None]
    if blur:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    if noise:
        photo += rng.normal(0.0, noise, photo.shape).astype(np.float32)
    return np.clip(photo, 0, 255).astype(np.uint8), quad.tolist()


def non_ecg_pictures(rng, *, size=(640, 480)):
    """Return [(name, uint8 RGB picture)] of things that are not ECGs, for the gate's tests.

    Periodic waves (sine, square, sawtooth, pulse-free triangle), random walks (stock-like and
    EEG-like), bar and line charts with axes, a text page, noise, blank, a smooth photo-like scene,
    and the same waves drawn on ECG paper (a grid alone is not evidence of an ECG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w, h = size
    out = []

    def draw(name, fn, *, axes=True, paper=False, figsize=None):
        fs = figsize or (w / 100.0, h / 100.0)
        fig = plt.figure(figsize=fs, dpi=100)
        ax = fig.add_axes([0.1, 0.1, 0.85, 0.8] if axes else [0, 0, 1, 1])
        if paper:
            ax.set_xticks(np.arange(0, 10.01, 0.04), minor=True)
            ax.set_xticks(np.arange(0, 10.01, 0.2))
            ax.set_yticks(np.arange(-2, 2.01, 0.1), minor=True)
            ax.set_yticks(np.arange(-2, 2.01, 0.5))
            ax.grid(which="minor", color="#f7c6c6", lw=0.4)
            ax.grid(which="major", color="#e58e8e", lw=0.9)
            ax.set_xlim(0, 10)
            ax.set_ylim(-2, 2)
            ax.tick_params(length=0, labelbottom=False, labelleft=False)
            for s in ax.spines.values():
                s.set_visible(False)
        elif not axes:
            ax.axis("off")
        fn(ax)
        fig.canvas.draw()
        img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)
        out.append((name, img))

    t = np.linspace(0, 10, 4000)
    waves = {
        "sine": np.sin(2 * np.pi * 1.2 * t),
        "fast_sine": np.sin(2 * np.pi * 3.0 * t),
        "square": np.sign(np.sin(2 * np.pi * 1.0 * t)),
        "sawtooth": 2 * ((t * 1.3) % 1.0) - 1,
        "triangle": 2 * np.abs(2 * ((t * 0.9) % 1.0) - 1) - 1,
        "random_walk": np.cumsum(rng.normal(0, 1, t.size)) / 20,
        "eeg_like": np.convolve(rng.normal(0, 1, t.size), np.ones(15) / 15, "same") * 3,
        "damped": np.exp(-t / 4) * np.sin(2 * np.pi * 2 * t),
        "pulse_train": (((t * 1.1) % 1.0) < 0.05).astype(float),
        "spike_train": np.maximum(0, 1 - np.abs(((t * 1.2) % 1.0) - 0.5) / 0.02),
    }
    for name, y in waves.items():
        y = y / max(np.ptp(y), 1e-9) * 2.0
        draw(f"{name}_chart", lambda ax, y=y: ax.plot(t, y, "b-"), axes=True)
        draw(f"{name}_bare", lambda ax, y=y: ax.plot(t, y, "k-", lw=1.2), axes=False,
             figsize=(w / 100.0, h / 250.0))
        draw(f"{name}_on_ecg_paper", lambda ax, y=y: ax.plot(t, y, "k-", lw=1.0), paper=True,
             figsize=(w / 60.0, h / 150.0))
        draw(f"{name}_small_on_ecg_paper", lambda ax, y=y: ax.plot(t, 0.4 * y, "k-", lw=1.0),
             paper=True, figsize=(w / 60.0, h / 150.0))
    draw("bar_chart", lambda ax: ax.bar(np.arange(12), rng.uniform(1, 10, 12), color="C0"))
    draw("stock_chart", lambda ax: ax.plot(np.cumsum(rng.normal(0.1, 1, 300)), "g-"))
    draw("scatter", lambda ax: ax.scatter(rng.normal(size=200), rng.normal(size=200), s=8))
    draw("pie", lambda ax: ax.pie(rng.uniform(1, 5, 5)), axes=False)

    def text_page(ax):
        for i in range(25):
            ax.text(0.05, 0.95 - i * 0.037, " ".join("".join(rng.choice(list("abcdefghij klmnop"), 8))
                                                      for _ in range(7)), fontsize=9,
                    transform=ax.transAxes, family="serif")

    draw("text_page", text_page, axes=False, figsize=(6.0, 8.0))

    def formulas(ax):
        for i in range(8):
            ax.text(0.05, 0.9 - i * 0.11, r"$\int_0^{%d} e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}"
                    r"\,\mathrm{erf}(%d)$" % (i + 1, i + 1), fontsize=16, transform=ax.transAxes)

    draw("formulas", formulas, axes=False)
    out.append(("white", np.full((h, w, 3), 255, np.uint8)))
    out.append(("noise", rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
    out.append(("grey_noise", np.repeat(rng.integers(0, 256, (h, w, 1), dtype=np.uint8), 3, axis=2)))
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    scene = np.stack([200 * xx + 30, 160 * yy + 40, 255 * (1 - xx * yy)], axis=2)
    for _ in range(10):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 120)
        blob = np.exp(-((yy * h - cy) ** 2 + (xx * w - cx) ** 2) / (2 * r * r))
        scene = scene * (1 - blob[..., None]) + blob[..., None] * rng.uniform(0, 255, 3)
    out.append(("photo_like", np.clip(scene, 0, 255).astype(np.uint8)))
    paper = render_report({k: np.zeros(2500) for k in ("I", "II", "III", "aVR", "aVL", "aVF", "V1",
                                                       "V2", "V3", "V4", "V5", "V6")}, 250.0, dpi=100)
    out.append(("flat_lines_report", paper.image))
    try:  # real photographs shipped with scikit-image, when it is installed
        from skimage import data as skdata

        for name in ("astronaut", "coffee", "chelsea", "retina", "camera", "text", "page"):
            img = getattr(skdata, name)()
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            out.append((f"skimage_{name}", img[..., :3].astype(np.uint8)))
    except Exception:  # noqa: BLE001 - optional extras
        pass
    return out


def small_non_ecg_pictures(rng):
    """Return [(name, uint8 RGB picture)] of small (plot-sized, at most 400 x 300) non-ECG pictures.

    The pictures ``non_ecg_pictures`` draws at 400 x 300 and 200 x 150 that stay plot-sized, and
    bare curves drawn like the single-beat plots (thin dark line, no axes, 192 x 128 to 300 x 200):
    sine waves of 1.5 to 12 cycles, a random walk, a stock-like line, EEG-like noise, a damped wave.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    for size in ((400, 300), (200, 150)):
        for name, img in non_ecg_pictures(rng, size=size):
            h, w = img.shape[:2]
            if w <= 400 and h <= 300 and w <= 2 * h:
                out.append((f"{name}_{size[0]}x{size[1]}", img))
    t = np.linspace(0, 1, 600)
    curves = {
        "sine_1.5": np.sin(2 * np.pi * 1.5 * t), "sine_2.5": np.sin(2 * np.pi * 2.5 * t),
        "sine_4": np.sin(2 * np.pi * 4 * t), "sine_12": np.sin(2 * np.pi * 12 * t),
        "random_walk": np.cumsum(rng.normal(0, 1, t.size)),
        "stock_line": np.cumsum(rng.normal(0.05, 1, t.size)),
        "eeg_like": np.convolve(rng.normal(0, 1, t.size), np.ones(25) / 25, "same"),
        "damped": np.exp(-3 * t) * np.sin(2 * np.pi * 5 * t),
    }
    for name, y in curves.items():
        for w, h in ((192, 128), (300, 200)):
            fig = plt.figure(figsize=(w / 100.0, h / 100.0), dpi=100)
            ax = fig.add_axes([0.03, 0.1, 0.94, 0.8])
            ax.axis("off")
            ax.plot(t, y, color="#555555", lw=0.8)
            fig.canvas.draw()
            img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
            plt.close(fig)
            out.append((f"bare_{name}_{w}x{h}", img))
    return out
