"""What a result means, in words a patient can read: the first thing the result page and the PDF say.

Sentences are built from the stored assessment only (``ml.assessment``: level, findings,
measurements, not assessed), so the page, the PDF and the notifications cannot disagree with the
reading. Nothing here is a diagnosis; nothing reassures about what the recording could not show.
"""

from dataclasses import dataclass, field

from ml import assessment as clinical

# SNOMED CT code -> (one, many): how a finding reads to a patient.
_LAY = {
    clinical.ATRIAL_FIBRILLATION[0]: (
        "The rhythm looked irregular in the way typical of atrial fibrillation (AF), where the upper "
        "chambers quiver instead of beating in step. AF is common and treatable, and it raises the risk of "
        "stroke, so it needs a doctor's opinion.", None),
    clinical.OTHER_RHYTHM[0]: ("The rhythm did not look like a regular normal rhythm; a doctor can tell what it is.", None),
    clinical.SINUS_RHYTHM[0]: ("The rhythm looked regular, set by the heart's natural pacemaker.", None),
    clinical.SINUS_BRADYCARDIA[0]: ("The rhythm was regular but slow. A slow rate can be normal in fit people and during sleep, but not always.", None),
    clinical.SINUS_TACHYCARDIA[0]: ("The rhythm was regular but fast for a person at rest.", None),
    clinical.BRADYCARDIA[0]: ("The heart beat very slowly (below 40 a minute) for a while.",
                              "The heart beat very slowly (below 40 a minute) {n} times in the recording."),
    clinical.TACHYCARDIA[0]: ("The heart beat fast (above 100 a minute) for a while.",
                              "The heart beat fast (above 100 a minute) {n} times in the recording."),
    clinical.PVC[0]: ("{value} extra beat(s) from the lower chambers (premature ventricular contractions, PVCs) were seen.", None),
    clinical.PAC[0]: ("{value} extra beat(s) from the upper chambers (premature atrial contractions, PACs) were seen.", None),
    clinical.VENTRICULAR_ESCAPE[0]: ("{value} escape beat(s) from the lower chambers were seen.", None),
    clinical.LBBB[0]: ("Most beats have the shape of a delay in the left side's wiring (left bundle branch block).", None),
    clinical.RBBB[0]: ("Most beats have the shape of a delay in the right side's wiring (right bundle branch block).", None),
    clinical.PACED[0]: ("Most beats were started by a pacemaker.", None),
    clinical.VT[0]: ("A run of fast beats from the lower chambers (ventricular tachycardia) was seen.",
                     "{n} runs of fast beats from the lower chambers (ventricular tachycardia) were seen."),
    clinical.IDIOVENTRICULAR[0]: ("A run of beats from the lower chambers was seen.", "{n} runs of beats from the lower chambers were seen."),
    clinical.SVT[0]: ("A run of fast beats from the upper chambers was seen.", "{n} runs of fast beats from the upper chambers were seen."),
    clinical.SV_RUN[0]: ("A run of extra beats from the upper chambers was seen.", "{n} runs of extra beats from the upper chambers were seen."),
    clinical.COUPLET[0]: ("A pair of extra beats from the lower chambers was seen.", "{n} pairs of extra beats from the lower chambers were seen."),
    clinical.BIGEMINY[0]: ("For a while every other beat was an extra beat (bigeminy).", "Every other beat was an extra beat at {n} times (bigeminy)."),
    clinical.TRIGEMINY[0]: ("For a while every third beat was an extra beat (trigeminy).", "Every third beat was an extra beat at {n} times (trigeminy)."),
    clinical.PAUSE[0]: ("The heart paused once for {longest}.", "The heart paused {n} times, the longest for {longest}."),
    clinical.VF[0]: ("Some waves look like ventricular fibrillation or flutter, a chaotic rhythm of the lower chambers.", None),
    clinical.FIRST_DEGREE_AV_BLOCK[0]: ("The signal from the upper to the lower chambers took longer than usual (first-degree AV block).", None),
    clinical.WIDE_QRS[0]: ("The main spike of each beat was wider than usual.", None),
    clinical.PROLONGED_QT[0]: ("The heart took longer than usual to recover after each beat (long QT).", None),
}

EMERGENCY_SIGNS = (
    "chest pain or pressure",
    "fainting or nearly fainting",
    "severe shortness of breath",
    "a racing or pounding heart with dizziness",
)
# Said of ectopic beats that are few (an "info" finding).
FEW_EXTRA_BEATS = "A few extra beats are common and often harmless, especially with caffeine, stress or little sleep."
# Said when this version could not rule out a heart attack that the recording might show.
NOT_RULED_OUT = ("This reading cannot rule out a heart attack. If you have chest pain now, call your local "
                 "emergency number.")
CHEST_PAIN = ("This recording cannot show signs of a heart attack. If you have chest pain now, call your "
              "local emergency number.")


@dataclass
class PlainLanguage:
    """Sentences for a patient, what to do, and whether it may be an emergency."""

    sentences: list = field(default_factory=list)
    advice: str = ""
    urgent: bool = False
    not_assessed: list = field(default_factory=list)


def _seconds(value):
    return f"{value:.1f} seconds" if value is not None else "a few seconds"


def explain(assessment):
    """Return the :class:`PlainLanguage` reading of a stored assessment (its JSON form)."""
    assessment = assessment or {}
    level = assessment.get("level") or "inconclusive"
    findings = assessment.get("findings") or []
    measurements = assessment.get("measurements") or {}
    out = PlainLanguage(urgent=level == "urgent")
    bpm = measurements.get("heart_rate_bpm")
    if bpm:
        out.sentences.append(f"Your heart beat about {bpm:.0f} times a minute.")
    grouped = {}
    for f in findings:
        grouped.setdefault(f["code"], []).append(f)
    for code, items in grouped.items():
        n = sum(int(f["value"]) if f.get("unit") == clinical.MORE else 1 for f in items)
        one, many = _LAY.get(code, (None, None))
        if one is None:
            out.sentences.append(f"{items[0]['display']}: {items[0].get('evidence') or 'seen'}.")
            continue
        timed = [f["value"] for f in items if f.get("unit") == "s" and f.get("value") is not None]
        longest = _seconds(max(timed)) if timed else None
        text = (many or one) if n > 1 else one
        value = items[0].get("value")
        out.sentences.append(text.format(n=n, longest=longest,
                                         value=f"{value:g}" if isinstance(value, (int, float)) else ""))
        if code in (clinical.PVC[0], clinical.PAC[0]) and items[0]["severity"] == "info":
            out.sentences.append(FEW_EXTRA_BEATS)
    out.not_assessed = [f"{n['what']}: {n['why']}." for n in assessment.get("not_assessed") or []]
    unread_st = [n for n in assessment.get("not_assessed") or [] if n["what"] in (clinical.ST_WHAT, clinical.ACUTE_MI_WHAT)]
    reported = [name.lower() for name in clinical.symptom_names(
        [k for k in assessment.get("symptoms") or [] if k in clinical.URGENT_WITH_SYMPTOMS])]
    review = assessment.get("review")
    if review:
        out.sentences.append(f"{review.get('by') or 'A doctor'} reviewed this reading"
                             + (" and read the whole ECG." if review.get("complete") else "."))
    if level == "urgent" and reported and not any(f["severity"] == "urgent" for f in findings):
        out.advice = (f"You reported {' and '.join(reported)}, and this recording shows an abnormal finding. "
                      "If you feel it now, call your local emergency number at once; otherwise see a doctor today.")
    elif level == "urgent":
        out.advice = ("Some of what this recording shows can be an emergency. If it was made just now, or you "
                      "feel unwell, call your local emergency number at once; otherwise show it to a doctor today.")
    elif level == "abnormal":
        out.advice = "Show this result to a doctor soon, even if you feel well."
    elif level == "inconclusive":
        product = [n for n in assessment.get("not_assessed") or [] if n.get("limit") == "product"]
        if findings and product:
            out.advice = ("This reading is incomplete (" + "; ".join(n["what"].lower() for n in product)
                          + ": see what was not assessed). Have a doctor read the ECG itself.")
        else:
            reason = next((n["why"] for n in assessment.get("not_assessed") or []), "")
            out.advice = f"This ECG could not be read. {reason}".strip()
    else:
        out.advice = "Nothing in what this recording can show needs attention. Keep it for your next check-up."
    if unread_st and level != "urgent":
        # "Cannot show" only when the input itself cannot; a 12-lead ECG could, this version did not.
        out.advice += " " + (CHEST_PAIN if all(n["limit"] == "input" for n in unread_st) else NOT_RULED_OUT)
    return out
