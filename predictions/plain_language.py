"""What a result means, in words a patient can read: the first thing the result page and the PDF say.

Sentences are built from the stored result only (heart rate, beat counts, the rhythm verdict);
nothing here is a diagnosis, and every statement says what was *seen* in this recording.
"""

from dataclasses import dataclass, field

# Beats of these classes are "extra" or unusual beats a patient may be told about, in lay words.
_LAY = {
    "A": ("extra beat from the upper chambers", "extra beats from the upper chambers", "premature atrial contractions, PACs"),
    "V": ("extra beat from the lower chambers", "extra beats from the lower chambers", "premature ventricular contractions, PVCs"),
    "E": ("escape beat from the lower chambers", "escape beats from the lower chambers", "ventricular escape beats"),
    "L": ("beat with a delay in the left side's wiring", "beats with a delay in the left side's wiring", "left bundle branch block"),
    "R": ("beat with a delay in the right side's wiring", "beats with a delay in the right side's wiring", "right bundle branch block"),
    "P": ("beat started by a pacemaker", "beats started by a pacemaker", "paced beats"),
    "VF": ("chaotic wave from the lower chambers", "chaotic waves from the lower chambers", "ventricular flutter or fibrillation"),
}

EMERGENCY_SIGNS = (
    "chest pain or pressure",
    "fainting or nearly fainting",
    "severe shortness of breath",
    "a racing or pounding heart with dizziness",
)


@dataclass
class PlainLanguage:
    """Sentences for a patient, and how soon a doctor should see the result."""

    sentences: list = field(default_factory=list)
    advice: str = ""
    urgent: bool = False  # a finding that can be an emergency if the person is unwell now


def explain(*, heart_rate, counts, rhythm_label=None):
    """Return the :class:`PlainLanguage` reading of a result.

    ``heart_rate`` is the summary's ``heart_rate_bpm`` dict (or None), ``counts`` the beats per
    class code, ``rhythm_label`` the rhythm verdict's label (``ml.rhythm``) when there is one.
    """
    out = PlainLanguage()
    total = sum(counts.values())
    see_doctor = False
    if heart_rate and heart_rate.get("mean"):
        bpm = round(heart_rate.get("median") or heart_rate["mean"])
        text = f"Your heart beat about {bpm} times a minute"
        if heart_rate.get("low") and heart_rate.get("high") and round(heart_rate["high"]) - round(heart_rate["low"]) >= 5:
            text += f" (most beats between {heart_rate['low']:.0f} and {heart_rate['high']:.0f})"
        if bpm < 50:
            text += ", which is slow. A slow rate can be normal in fit people and during sleep, but not always."
            see_doctor = True
        elif bpm > 110:
            text += ", which is fast for a person at rest."
            see_doctor = True
        else:
            text += ", within or close to the usual resting range of 60 to 100."
        out.sentences.append(text)

    if rhythm_label == "atrial_fibrillation":
        out.sentences.append(
            "The rhythm looked irregular in the way typical of atrial fibrillation (AF), where the upper "
            "chambers quiver instead of beating in step. AF is common and treatable, and it raises the risk "
            "of stroke, so it needs a doctor's opinion."
        )
        see_doctor = True
    elif rhythm_label == "other":
        out.sentences.append("The rhythm did not look like a regular normal rhythm; a doctor can tell what it is.")
        see_doctor = True
    elif rhythm_label == "noisy":
        out.sentences.append(
            "The recording was too noisy to judge the rhythm. Record again sitting still, with good skin contact."
        )
    elif rhythm_label == "normal":
        out.sentences.append("The rhythm looked regular.")

    for code in ("VF", "V", "E", "A", "P", "L", "R"):
        n = counts.get(code, 0)
        if not n:
            continue
        one, many, medical = _LAY[code]
        share = n / total if total else 0
        how_often = f", about 1 in every {round(1 / share)} beats" if 0 < share < 0.5 else (", most beats" if share >= 0.5 else "")
        out.sentences.append(f"{n} {one if n == 1 else many} ({medical}) were seen{how_often}.")
        if code == "VF":
            out.urgent = True
        if code in ("V", "A") and share <= 0.01:
            out.sentences.append(
                "A few extra beats are common and often harmless, especially with caffeine, stress or little sleep."
            )
        else:
            see_doctor = True
    if total and counts.get("N", 0) == total and rhythm_label in (None, "normal"):
        out.sentences.append("Every beat the model looked at had a normal shape.")

    if out.urgent:
        out.advice = (
            "Some waves look like ventricular fibrillation, which is an emergency. If this recording was made "
            "just now and the person is unwell, call your local emergency number at once."
        )
    elif see_doctor:
        out.advice = "Show this result to a doctor soon, even if you feel well."
    else:
        out.advice = "Nothing here needs urgent attention. Keep it for your next check-up."
    return out
