"""The PDF report of one result, for a patient to hand to a doctor (ReportLab)."""

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (BaseDocTemplate, Frame, Image, KeepTogether, NextPageTemplate, PageBreak,
                                PageTemplate, Paragraph, Spacer, Table, TableStyle)

from ml.classes import BY_CODE
from predictions.plots import BEAT_COLOURS
from predictions.selectors import prediction_leads, prediction_signal, prediction_view

DISCLAIMER = (
    "This report was produced automatically by a machine-learning model for research and education. "
    "It is not a diagnosis and it can be wrong. Only a qualified clinician, who can examine the patient and "
    "the full ECG, can interpret it. An association between a beat class and a disease is not a diagnosis "
    "of that disease. In an emergency call your local emergency number."
)


def _image(field_file, width):
    """Return a flowable of a stored PNG scaled to ``width``, read through the storage API."""
    with field_file.storage.open(field_file.name, "rb") as fh:
        data = io.BytesIO(fh.read())
    img = Image(data)
    ratio = width / img.imageWidth
    img.drawWidth, img.drawHeight = width, img.imageHeight * ratio
    return img


def _trace_from_signal(prediction, width):
    """Return a flowable of the first minute of the stored signal, every beat labelled, or None."""
    stored = prediction_signal(prediction=prediction)
    if stored is None:
        return None
    import numpy as np

    from predictions.plots import trace_png

    signal, fs = stored
    x = np.asarray(signal[: int(60 * fs)], dtype=np.float32)
    beats = prediction.beats or {}
    peaks = [int(p) for p in beats.get("r_peaks") or [] if int(p) < len(x)]
    png = trace_png(x, fs=fs, r_peaks=peaks, labels=(beats.get("labels") or [])[: len(peaks)])
    img = Image(io.BytesIO(png))
    img.drawWidth, img.drawHeight = width, img.imageHeight * width / img.imageWidth
    return img


def _counts_chart(bars, width):
    height = 14 * len(bars) + 30
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = 30, 15
    chart.width, chart.height = width - 60, height - 25
    chart.data = [[b["count"] for b in bars]]
    chart.categoryAxis.categoryNames = [b["code"] for b in bars]
    chart.valueAxis.valueMin = 0
    chart.bars.strokeColor = None
    for i, b in enumerate(bars):
        chart.bars[(0, i)].fillColor = colors.HexColor(BEAT_COLOURS.get(b["code"], "#616161"))
    drawing.add(chart)
    return drawing


# The worst events get a strip each, on true-scale paper (predictions.plots.strip_png).
MAX_EVENT_STRIPS = 3


def _reading(reading, styles, small, width):
    """Return the flowables of the clinical reading: level, patient's words, findings,
    measurements and what was not assessed (the same stored assessment the page shows)."""
    out = [Paragraph(f"Clinical reading: {escape(reading['title'])}", styles["Heading2"])]
    review = reading.get("review")
    if review:
        text = f"Reviewed by {escape(review.get('by') or 'a clinician')}" + (", who read the whole ECG" if review.get("complete") else "")
        if reading["model_title"]:
            text += f". The model's own reading: {escape(reading['model_title'])}"
        if review.get("rejected"):
            text += "; not confirmed by the doctor: " + escape(", ".join(f["display"] for f in review["rejected"]))
        out.append(Paragraph(text + ".", small))
    if reading.get("symptoms"):
        out.append(Paragraph("Symptoms reported with this recording: " + escape(", ".join(reading["symptoms"]).lower()) + ".", small))
    words = reading["words"]
    out += [Paragraph(escape(sentence), styles["BodyText"]) for sentence in words.sentences]
    out.append(Paragraph(f"<b>{escape(words.advice)}</b>", styles["BodyText"]))
    if reading["findings"]:
        rows = [["Finding", "Severity", "When", "Evidence", "SNOMED CT"]] + [
            [Paragraph(escape(f["display"] + {"confirmed": " (confirmed by the doctor)", "added": " (added by the doctor)"}
                              .get(f.get("reviewed"), "")), small), f["severity"], f["when"] or "whole record",
             Paragraph(escape(f["evidence"] + (" (unsure beats)" if f.get("unsure") else "")), small), f["code"]]
            for f in reading["findings"]
        ]
        table = Table(rows, colWidths=[42 * mm, 18 * mm, 24 * mm, width - 106 * mm, 22 * mm], repeatRows=1)
        table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey)]))
        out += [Spacer(1, 2 * mm), table]
    if reading["measurements"]:
        text = "; ".join(f"{m['label']} {m['value']:.0f} {m['unit']}" for m in reading["measurements"])
        out.append(Paragraph(f"<b>Measurements:</b> {escape(text)}", small))
    for n in reading["not_assessed"]:
        out.append(Paragraph(f"<b>Not assessed:</b> {escape(n['what'])}: {escape(n['why'])}.", small))
    return out


def _event_strips(prediction, reading, styles, small):
    """Return a true-scale strip (25 mm/s, 10 mm/mV, calibration pulse) of each of the worst timed findings."""
    timed = [f for f in reading["findings"] if f.get("start_s") is not None and f["severity"] != "info"]
    if not timed:
        return []
    stored = prediction_signal(prediction=prediction)
    if stored is None:
        return []
    from predictions.plots import STRIP_S, strip_png

    signal, fs = stored
    out = [Paragraph("The worst events (25 mm/s, 10 mm/mV)", styles["Heading2"])]
    for f in timed[:MAX_EVENT_STRIPS]:
        centre = (f["start_s"] + (f.get("end_s") or f["start_s"])) / 2
        start = max(0.0, centre - STRIP_S / 2)
        png, (w_mm, h_mm) = strip_png(signal, fs=fs, start_s=start)
        img = Image(io.BytesIO(png))
        img.drawWidth, img.drawHeight = w_mm * mm, h_mm * mm  # true scale: 1 small square = 1 mm
        out.append(KeepTogether([Paragraph(f"{escape(f['display'])}, {f['when']}: {escape(f['evidence'])}", small), img]))
    return out


# The 12-lead page: a landscape A4 page holds the 260-mm wide print at true scale.
TWELVE_LEAD_BASES = ("leads", "intervals")  # the findings that page lists beside the print
MARGIN = (16 * mm, 14 * mm)


def _twelve_lead_page(prediction, reading, styles, small):
    """Return the flowables of the 12-lead page (landscape, then back to portrait): every lead in
    the standard layout at 25 mm/s and 10 mm/mV, the 12-lead statements and measurements; [] for
    a result without the twelve standard leads stored."""
    stored = prediction_leads(prediction=prediction)
    if stored is None or not prediction.signal_fs:
        return []
    from predictions.plots import TWELVE_LEAD_ROWS, twelve_lead_png

    array, names = stored
    leads = {name: array[i] for i, name in enumerate(names)}
    if not all(name in leads for row in TWELVE_LEAD_ROWS for name in row):
        return []
    png, (w_mm, h_mm) = twelve_lead_png(leads, fs=prediction.signal_fs)
    img = Image(io.BytesIO(png))
    img.drawWidth, img.drawHeight = w_mm * mm, h_mm * mm  # true scale
    statements = [f for f in reading["findings"] if f.get("basis") in TWELVE_LEAD_BASES]
    text = "; ".join(f"{escape(f['display'])} ({f['severity']}): {escape(f['evidence'])}" for f in statements)
    measured = "; ".join(f"{m['label']} {m['value']:.0f} {m['unit']}" for m in reading["measurements"])
    return [NextPageTemplate("landscape"), PageBreak(),
            Paragraph("The 12 leads (25 mm/s, 10 mm/mV, 1 mV calibration pulse)", styles["Heading2"]),
            Paragraph(f"<b>Statements:</b> {text or 'none'}", small),
            Paragraph(f"<b>Measurements:</b> {escape(measured) or 'none'}", small),
            Spacer(1, 2 * mm), img, NextPageTemplate("portrait"), PageBreak()]


def _picture_overlay(record, prediction, styles, small, width):
    """Return the flowables of the uploaded picture with the trace read drawn over it, or []."""
    from predictions.pictures import overlay_png, picture_reading

    picture = picture_reading(prediction)
    png = overlay_png(record, picture) if picture else None
    if png is None:
        return []
    img = Image(io.BytesIO(png))
    img.drawWidth, img.drawHeight = width, img.imageHeight * width / img.imageWidth
    if img.drawHeight > 120 * mm:  # a tall photo: keep it on one page beside its heading
        img.drawWidth, img.drawHeight = img.drawWidth * 120 * mm / img.drawHeight, 120 * mm
    return [KeepTogether([
        Paragraph("Your picture, and what was read on it", styles["Heading2"]),
        Paragraph("Red: the ECG line that was read; blue: the page that was found. Where the red line "
                  "leaves the printed line, that part was misread.", small),
        img])]


def build_report(out, *, record, prediction, viewer):
    """Write the PDF report of ``prediction`` on ``record`` to the binary file ``out``."""
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    warn = ParagraphStyle("warn", parent=small, textColor=colors.HexColor("#6b4400"), backColor=colors.HexColor("#fff4e5"), borderPadding=4)
    doc = BaseDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN[0],
        rightMargin=MARGIN[0],
        topMargin=MARGIN[1],
        bottomMargin=MARGIN[1],
        title=f"ECG report {record.original_filename}",
        author="ECG Portal",
    )
    width = doc.width
    view = prediction_view(prediction=prediction, user=viewer)
    patient = record.owner
    story = [
        Paragraph("ECG analysis report", styles["Title"]),
        Paragraph(DISCLAIMER, warn),
        Spacer(1, 5 * mm),
    ]
    facts = [
        ["Patient", patient.get_full_name() or patient.email],
        ["File", record.original_filename + (f" + {record.companion_filename}" if record.companion_filename else "")],
        ["Recorded on", record.recorded_on.strftime("%d %b %Y") if record.recorded_on else "not given"],
        ["Uploaded", timezone.localtime(record.created_at).strftime("%d %b %Y %H:%M")],
        ["Analysed", timezone.localtime(prediction.finished_at).strftime("%d %b %Y %H:%M") if prediction.finished_at else "–"],
        ["Status", prediction.get_status_display()],
        ["Model version", prediction.model_version or "–"],
    ]
    if record.note:
        facts.append(["Note", Paragraph(escape(record.note), small)])
    table = Table(facts, colWidths=[35 * mm, width - 35 * mm])
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9), ("TEXTCOLOR", (0, 0), (0, -1), colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [table, Spacer(1, 4 * mm)]
    if prediction.status == "done":
        hr = view["heart_rate"] or {}
        summary = [
            ["Beats analysed", str(view["beat_total"])],
            ["Heart rate", f"{prediction.heart_rate_bpm:.0f} bpm" + (f" (most beats {hr['low']:.0f}-{hr['high']:.0f})" if hr.get("low") and hr.get("high") else "") if prediction.heart_rate_bpm else "–"],
            ["Model confidence", f"{prediction.confidence * 100:.0f} %" if prediction.confidence is not None else "–"],
            ["Low-confidence beats", str(len(view["low_confidence"]))],
        ]
        story += _reading(view["reading"], styles, small, width)
        story += _event_strips(prediction, view["reading"], styles, small)
        story += _picture_overlay(record, prediction, styles, small, width)
        story += _twelve_lead_page(prediction, view["reading"], styles, small)
        story.append(Paragraph("Summary", styles["Heading2"]))
        t = Table(summary, colWidths=[45 * mm, width - 45 * mm])
        t.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(t)
        if view["bars"]:
            story.append(Paragraph("Beats per class", styles["Heading2"]))
            story.append(_counts_chart(view["bars"], width))
            rows = [["Class", "Name", "Beats", "%"]] + [
                [b["code"], b["name"], str(b["count"]), f"{b['percent']:.1f}"] for b in view["bars"]
            ]
            ct = Table(rows, colWidths=[18 * mm, width - 58 * mm, 20 * mm, 20 * mm])
            ct.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 8), ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey)]))
            story.append(ct)
        trace = _image(view["trace"].file, width) if view["trace"] is not None else _trace_from_signal(prediction, width)
        if trace is not None:
            # Heading and picture stay on one page (no orphan heading at the foot of a page).
            story.append(KeepTogether([Paragraph("Trace with every beat labelled (first minute)", styles["Heading2"]), trace]))
        reps = [r for r in view["representatives"] if r.get("spectral") or r.get("saliency")]
        if reps:
            story.append(Paragraph("Representative beats (spectral image and saliency overlay)", styles["Heading2"]))
            cells = []
            for rep in reps:
                pics = [_image(rep[k].file, 38 * mm) for k in ("spectral", "saliency") if rep.get(k)]
                label = Paragraph(f"<b>{rep['code']}</b> {rep['name']}<br/>beat {rep['beat_index'] + 1}", small)
                cells.append([label] + pics)
            rt = Table(cells, colWidths=[50 * mm] + [42 * mm] * (max(len(c) for c in cells) - 1))
            rt.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
            story.append(rt)
    elif prediction.status == "inconclusive":
        story += [Paragraph("Inconclusive", styles["Heading2"]), Paragraph(escape(prediction.inconclusive_reason), styles["BodyText"])]
    else:
        story += [Paragraph("The analysis failed", styles["Heading2"]), Paragraph(escape(prediction.error_message), styles["BodyText"])]

    reviews = list(prediction.reviews.all().order_by("created_at"))
    story.append(Paragraph("Doctor's review", styles["Heading2"]))
    if not reviews:
        story.append(Paragraph("No doctor has reviewed this result yet.", small))
    for review in reviews:
        line = f"<b>{escape(review.doctor_name)}</b>, {timezone.localtime(review.created_at):%d %b %Y}: {review.get_verdict_display()}"
        if review.corrected_code:
            n = len(review.beat_indices)
            target = f"beat {review.beat_indices[0] + 1}" if n == 1 else f"{n} beats"
            name = BY_CODE[review.corrected_code].name if review.corrected_code in BY_CODE else review.corrected_code
            line += f"; {target} relabelled {name}"
        if review.rhythm:
            line += "; rhythm corrected"
        if review.finding_decisions or review.added_findings:
            line += f"; {len(review.finding_decisions)} finding(s) confirmed or rejected, {len(review.added_findings)} added"
        if review.complete:
            line += "; read the whole ECG"
        story.append(Paragraph(line, styles["BodyText"]))
        if review.note:
            story.append(Paragraph(escape(review.note).replace("\n", "<br/>"), small))
    story += [Spacer(1, 6 * mm), Paragraph(DISCLAIMER, warn)]

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(16 * mm, 8 * mm, f"ECG Portal · not a diagnosis · model {prediction.model_version or '-'} · page {doc_.page}")
        canvas.restoreState()

    wide_w, wide_h = landscape(A4)
    doc.addPageTemplates([
        PageTemplate("portrait", [Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height)],
                     onPage=footer, pagesize=A4),
        PageTemplate("landscape", [Frame(MARGIN[0], MARGIN[1], wide_w - 2 * MARGIN[0], wide_h - 2 * MARGIN[1])],
                     onPage=footer, pagesize=landscape(A4)),
    ])
    doc.build(story)
