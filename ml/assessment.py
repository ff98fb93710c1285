"""The clinical reading of one ECG: a level, findings, measurements, and what was not assessed.

Beats, the rhythm verdict, events and intervals are evidence; the assessment is what a person
acts on. It is computed once (by :func:`assess`, called from ``ml.analysis.analyse`` in the
worker), stored with the result, and every surface (page, PDF, FHIR, API, history, worklist,
notifications, export) reads the stored copy. Its JSON form is the contract::

    {"level": "normal" | "abnormal" | "urgent" | "inconclusive",
     "findings": [{"code", "display", "severity", "start_s", "end_s", "leads", "value", "unit",
                   "evidence", "unsure", "basis", "reviewed"}],
     "measurements": {"heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "axis_deg", ...},
     "not_assessed": [{"what", "why", "limit": "input" | "product"}],
     "symptoms": ["chest_pain", ...],            # optional: what the patient reported (SYMPTOMS)
     "review": {"by", "complete", "rejected", "read_by_clinician"}}  # optional: after a review

``level`` is ``normal`` only when every finding is ``info`` *and* nothing the input allows was
left unassessed for a reason other than the input itself (``limit == "product"``); an abnormal
reading of a patient who reported chest pain or fainting is urgent. A one-lead
strip can read "normal rhythm" and still list ST segments as not assessed (the input cannot
show them); a 12-lead file whose ST segments this version does not read is not "normal".

Codes are SNOMED CT concept ids as the PhysioNet/CinC Challenge 2020-21 label set uses them
(``dx_mapping_scored.csv`` / ``dx_mapping_unscored.csv``); measurements carry LOINC codes
(:data:`MEASUREMENTS`) for FHIR. Thresholds cite their source where they are defined.

See also: ``ml.events`` (runs, pauses, episodes), ``ml.delineate`` (intervals), ``ml.rhythm``
(the rhythm verdict).
"""

from dataclasses import asdict, dataclass, field, replace

LEVELS = ("normal", "abnormal", "urgent", "inconclusive")
SEVERITIES = ("info", "abnormal", "urgent")
LIMITS = ("input", "product")

# SNOMED CT concept ids (CinC 2020-21 mapping) and the display each finding carries.
SINUS_RHYTHM = ("426783006", "Sinus rhythm")
SINUS_BRADYCARDIA = ("426177001", "Sinus bradycardia")
SINUS_TACHYCARDIA = ("427084000", "Sinus tachycardia")
BRADYCARDIA = ("426627000", "Bradycardia")
TACHYCARDIA = ("3424008", "Tachycardia")
ATRIAL_FIBRILLATION = ("164889003", "Atrial fibrillation")
OTHER_RHYTHM = ("698247007", "Rhythm other than sinus rhythm")
PAC = ("284470004", "Premature atrial contractions")
PVC = ("427172004", "Premature ventricular contractions")
VENTRICULAR_ESCAPE = ("75532003", "Ventricular escape beats")
LBBB = ("164909002", "Left bundle branch block pattern")
RBBB = ("59118001", "Right bundle branch block pattern")
PACED = ("10370003", "Paced rhythm")
VT = ("164895002", "Ventricular tachycardia")
IDIOVENTRICULAR = ("49260003", "Idioventricular run")
SVT = ("426761007", "Supraventricular tachycardia run")
SV_RUN = ("63593006", "Supraventricular run")
COUPLET = ("251182009", "Ventricular couplet")
BIGEMINY = ("11157007", "Ventricular bigeminy")
TRIGEMINY = ("251180001", "Ventricular trigeminy")
PAUSE = ("5609005", "Pause")  # SNOMED's nearest concept is sinus arrest; the evidence gives the length
VF = ("164896001", "Ventricular fibrillation or flutter")
FIRST_DEGREE_AV_BLOCK = ("270492004", "First-degree AV block")
PROLONGED_QT = ("111975006", "Prolonged QT interval")
WIDE_QRS = ("698252002", "Wide QRS complex")
# Read from 12 leads (ml.twelve_lead), with the QRS shape in every lead.
COMPLETE_LBBB = ("733534002", "Complete left bundle branch block")
COMPLETE_RBBB = ("713427006", "Complete right bundle branch block")
INCOMPLETE_RBBB = ("713426002", "Incomplete right bundle branch block")
IVCD = (WIDE_QRS[0], "Non-specific intraventricular conduction delay")
# Conduction statements: one lead's shape calls and QRS width give way to a 12-lead reading's.
CONDUCTION_CODES = {c[0] for c in (LBBB, RBBB, WIDE_QRS, COMPLETE_LBBB, COMPLETE_RBBB, INCOMPLETE_RBBB)}

# Measurement key -> (LOINC code, display, unit). The FHIR export makes one Observation of each.
MEASUREMENTS = {
    "heart_rate_bpm": ("8867-4", "Heart rate", "/min"),
    "pr_ms": ("8625-6", "P-R interval", "ms"),
    "qrs_ms": ("8633-0", "QRS duration", "ms"),
    "qt_ms": ("8634-8", "Q-T interval", "ms"),
    "qtc_ms": ("8636-3", "Q-T interval corrected", "ms"),
    "axis_deg": ("8632-2", "QRS axis", "deg"),
}

# Symptoms a patient can report with a recording (SNOMED CT clinical findings). Chest pain or
# fainting together with an abnormal ECG makes the reading urgent: chest pain with ECG changes
# calls for immediate assessment (2023 ESC guidelines for acute coronary syndromes), and syncope
# with an arrhythmic ECG finding is high-risk syncope (2018 ESC guidelines for syncope).
SYMPTOMS = {
    "palpitations": ("80313002", "Palpitations"),
    "dizziness": ("404640003", "Dizziness"),
    "chest_pain": ("29857009", "Chest pain"),
    "fainting": ("271594007", "Fainting (syncope)"),
    "breathless": ("267036007", "Shortness of breath"),
    "none": ("84387000", "No symptoms"),
}
URGENT_WITH_SYMPTOMS = ("chest_pain", "fainting")


def symptom_names(keys):
    """Return the displays of the :data:`SYMPTOMS` ``keys`` (unknown keys left out), in order."""
    return [SYMPTOMS[k][1] for k in keys or () if k in SYMPTOMS]

# Rate limits of the AHA/ACC/HRS 2009 recommendations for the standardisation and interpretation
# of the ECG (part II: sinus bradycardia < 50/min, tachycardia > 100/min). A rate below 40/min is
# marked abnormal; 40-50 is common in fit people and in sleep, so it is stated, not flagged.
BRADY_BPM = 50
MARKED_BRADY_BPM = 40
TACHY_BPM = 100
# Interval limits (AHA/ACC/HRS 2009 part III/IV): PR > 200 ms first-degree AV block; QRS >= 120 ms
# complete bundle branch block or other wide complex; QTc > 460 ms (women) / 450 ms (men): without
# sex, the higher limit 470 ms is used, and >= 500 ms is the threshold of high risk.
PR_LONG_MS = 200
QRS_WIDE_MS = 120
QTC_LONG_MS = 470
QTC_HIGH_RISK_MS = 500
# Ectopic beats are "frequent" above 10 % of beats (the burden used for PVC-induced
# cardiomyopathy risk, 2017 AHA/ACC/HRS ventricular arrhythmia guideline); fewer are reported as
# information, not as a reason to worry.
FREQUENT_ECTOPY = 0.10
# A beat shape (bundle branch block, paced) describes the rhythm when it is most beats; a few
# such labels in a normal record are more likely model errors than an intermittent block.
DOMINANT_SHAPE = 0.5
# Shorter than this, a recording shows only what happened during it: events that come and go
# are not assessed (a Holter report covers 24 h; a 30-s strip is a snapshot).
SNAPSHOT_S = 60.0
# Inputs with this many leads or more are 12-lead ECGs (8 independent leads + 4 derived).
TWELVE_LEAD = 8

ST_WHAT = "ST segments and signs of a heart attack (ischaemia)"
# The 12-lead reading measures ST levels well (J point within 0.05 mV of the cardiologists' in 97 %
# of LUDB leads, in true mV) but its criteria, the Fourth UDMI's with sex and age from the header,
# found none of LUDB's 8 STEMI records as urgent, and read 2 of them with no finding
# (ml/reports/twelve_lead.md): until they are validated on a larger infarction set, a 12-lead
# reading without abnormal findings is never called normal, and says why.
TWELVE_LEAD_ST_VALIDATED = False
ACUTE_MI_WHAT = "Signs of an acute heart attack in the shape of the ST segments and T waves"
ACUTE_MI_WHY = ("the ST levels were measured, but this version's criteria are not yet validated on heart attacks "
                "(they missed all 8 STEMI records of the LUDB database): a clinician must read them")
ACUTE_MI_UNREAD_WHY = ("this version could not read the ST segments of this 12-lead ECG (see above): a clinician "
                       "must read them")
MORPHOLOGY_WHAT = "Electrical axis, chamber enlargement and Q waves"
EVENTS_WHAT = "Rhythm events that come and go (pauses, runs of extra beats)"
WHOLE_RECORDING = "The whole recording"
RHYTHM_WHAT = "Heart rhythm and rate"


@dataclass(frozen=True)
class Finding:
    """One statement a cardiologist would write, with its code and the evidence for it."""

    code: str
    display: str
    severity: str
    start_s: float | None = None
    end_s: float | None = None
    leads: tuple = ()
    value: float | None = None
    unit: str | None = None
    evidence: str = ""
    unsure: bool = False
    # What the finding was derived from: "rhythm", "beats", "events", "intervals", "leads" (the
    # 12-lead reading) or "clinician" (added in a review). A review that relabels beats derives
    # the "beats" and "events" findings again and keeps the rest.
    basis: str = ""
    reviewed: str = ""  # "confirmed" or "added" by a clinician's review (see revise)

    def to_dict(self):
        out = asdict(self)
        out["leads"] = list(self.leads)
        return out

    @classmethod
    def from_dict(cls, data):
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**dict(known, leads=tuple(known.get("leads") or ())))

    @property
    def key(self):
        """Name this finding within its reading (a review confirms or rejects it by this key)."""
        return self.code if self.start_s is None else f"{self.code}@{self.start_s:g}"


@dataclass(frozen=True)
class NotAssessed:
    """Something a reader would expect that this reading does not cover, and why."""

    what: str
    why: str
    limit: str = "input"  # "input": the recording cannot show it; "product": this version does not read it

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(data["what"], data["why"], data.get("limit", "input"))


@dataclass
class Assessment:
    """The clinical reading: see the module docstring for its JSON form."""

    level: str
    findings: list = field(default_factory=list)
    measurements: dict = field(default_factory=dict)
    not_assessed: list = field(default_factory=list)

    def to_dict(self):
        return {"level": self.level,
                "findings": [f.to_dict() for f in self.findings],
                "measurements": dict(self.measurements),
                "not_assessed": [n.to_dict() for n in self.not_assessed]}


def level_of(findings, not_assessed, symptoms=()):
    """Return the level that ``findings``, ``not_assessed`` and the reported ``symptoms`` allow
    (see the module docstring)."""
    if any(n.what == WHOLE_RECORDING for n in not_assessed):
        return "inconclusive"
    severities = {f.severity for f in findings}
    if "urgent" in severities:
        return "urgent"
    if "abnormal" in severities:
        return "urgent" if set(symptoms) & set(URGENT_WITH_SYMPTOMS) else "abnormal"
    if any(n.limit == "product" for n in not_assessed):
        return "inconclusive"
    return "normal"


def _ordered(findings):
    """Return ``findings`` most severe first; within a severity, whole-record statements, then
    events in time, then the summed-up rest. Every surface lists them in this order."""
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: (rank[f.severity], f.unit == MORE, f.start_s is not None,
                                           f.start_s or 0))


def inconclusive(reason):
    """Return the assessment of an input that could not be read as a usable ECG."""
    return Assessment(level="inconclusive",
                      not_assessed=[NotAssessed(WHOLE_RECORDING, reason, "input")])


def _f(concept, severity, **kw):
    code, display = concept
    return Finding(code=code, display=kw.pop("display", display), severity=severity, **kw)


def _based(findings, basis):
    return [replace(f, basis=basis) for f in findings]


def _round(value, ndigits=0):
    return None if value is None else (round(float(value)) if ndigits == 0 else round(float(value), ndigits))


def _t(seconds):
    """Return ``seconds`` as m:ss for evidence sentences."""
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _rhythm_findings(rhythm, rate, lead, duration_s):
    """Return the findings of the rhythm verdict (``ml.rhythm``) and the whole-record rate."""
    leads = (lead,) if lead else ()
    label = (rhythm or {}).get("label")
    out = []
    if label == "atrial_fibrillation" and not rhythm.get("episodes"):
        out.append(_f(ATRIAL_FIBRILLATION, "abnormal", leads=leads, value=_round(rate), unit="bpm",
                      evidence=f"Irregularly irregular rhythm without regular P waves, "
                               f"ventricular rate about {_round(rate)}/min"))
        return out
    episodes = (rhythm or {}).get("episodes") or []
    for ep in episodes:
        out.append(_f(ATRIAL_FIBRILLATION, "abnormal", start_s=ep["start_s"], end_s=ep["end_s"],
                      leads=leads, value=ep["duration_s"], unit="s",
                      evidence=f"Atrial fibrillation from {_t(ep['start_s'])} to {_t(ep['end_s'])} "
                               f"({ep['duration_s']:.0f} s)"))
    if episodes and rhythm.get("af_seconds") and duration_s:
        burden = 100.0 * rhythm["af_seconds"] / duration_s
        longest = max(ep["duration_s"] for ep in episodes)
        out.insert(0, _f(ATRIAL_FIBRILLATION, "abnormal", leads=leads, value=round(burden, 1), unit="%",
                         display="Atrial fibrillation burden",
                         evidence=f"AF in {burden:.0f} % of the recording ({len(episodes)} episode"
                                  f"{'s' if len(episodes) != 1 else ''}, longest {longest:.0f} s)"))
    if label == "atrial_fibrillation":
        return out
    if rate is None:
        return out
    bpm = _round(rate)
    if label == "normal":
        if bpm < MARKED_BRADY_BPM:
            out.append(_f(SINUS_BRADYCARDIA, "abnormal", leads=leads, value=bpm, unit="bpm",
                          evidence=f"Regular rhythm at {bpm}/min (below {MARKED_BRADY_BPM})"))
        elif bpm < BRADY_BPM:
            out.append(_f(SINUS_BRADYCARDIA, "info", leads=leads, value=bpm, unit="bpm",
                          evidence=f"Regular rhythm at {bpm}/min; common in fit people and in sleep"))
        elif bpm > TACHY_BPM:
            out.append(_f(SINUS_TACHYCARDIA, "abnormal", leads=leads, value=bpm, unit="bpm",
                          evidence=f"Regular rhythm at {bpm}/min (above {TACHY_BPM})"))
        else:
            out.append(_f(SINUS_RHYTHM, "info", leads=leads, value=bpm, unit="bpm",
                          evidence=f"Regular rhythm at {bpm}/min"))
    elif label == "other":
        out.append(_f(OTHER_RHYTHM, "abnormal", leads=leads, value=bpm, unit="bpm",
                      evidence=f"The rhythm model reads neither sinus rhythm nor atrial fibrillation "
                               f"(probability {rhythm.get('probability') or 0:.2f}); rate {bpm}/min"))
    elif label is None:  # no verdict (e.g. a short picture strip): the rate alone
        if bpm < MARKED_BRADY_BPM or bpm > TACHY_BPM:
            concept = BRADYCARDIA if bpm < MARKED_BRADY_BPM else TACHYCARDIA
            out.append(_f(concept, "abnormal", leads=leads, value=bpm, unit="bpm",
                          evidence=f"Heart rate {bpm}/min"))
    return out


def _beat_findings(counts, lead):
    """Return findings from the beat classes: ectopic beats, and a dominant abnormal shape."""
    total = sum(counts.values())
    if not total:
        return []
    leads = (lead,) if lead else ()
    out = []
    for code, concept in (("V", PVC), ("A", PAC), ("E", VENTRICULAR_ESCAPE)):
        n = counts.get(code, 0)
        if not n:
            continue
        share = n / total
        severity = "abnormal" if share >= FREQUENT_ECTOPY else "info"
        out.append(_f(concept, severity, leads=leads, value=n, unit="beats",
                      evidence=f"{n} of {total} beats ({100 * share:.1f} %)"
                               + (", frequent" if severity == "abnormal" else "")))
    for code, concept in (("L", LBBB), ("R", RBBB), ("P", PACED)):
        share = counts.get(code, 0) / total
        if share >= DOMINANT_SHAPE:
            out.append(_f(concept, "abnormal" if code != "P" else "info", leads=leads,
                          value=round(100 * share, 1), unit="%",
                          evidence=f"{100 * share:.0f} % of beats have this shape (beat model, "
                                   f"one lead)"))
    return out


# Event kind (ml.events) -> (concept, severity). VT is urgent when sustained (>= 30 s, EC57 and
# the 2017 AHA/ACC/HRS definition); VF/flutter always is.
_EVENT_CONCEPTS = {
    "ventricular_couplet": (COUPLET, "abnormal"),
    "ventricular_run": (VT, "abnormal"),
    "supraventricular_run": (SVT, "abnormal"),
    "ventricular_bigeminy": (BIGEMINY, "abnormal"),
    "ventricular_trigeminy": (TRIGEMINY, "abnormal"),
    "pause": (PAUSE, "abnormal"),
    "bradycardia": (BRADYCARDIA, "abnormal"),
    "tachycardia": (TACHYCARDIA, "info"),
    "ventricular_fibrillation": (VF, "urgent"),
}
SUSTAINED_VT_S = 30.0
VT_RATE_BPM = 100  # a ventricular run slower than this is idioventricular, not tachycardia
SVT_RATE_BPM = 100
PAUSE_ABNORMAL_S = 3.0  # RR >= 2 s is a pause; >= 3 s is abnormal (issue 18; ACC/AHA Holter guideline)
# Findings of one kind listed one by one up to this many; the rest are summed in one finding
# whose value is their number and whose unit is MORE.
MAX_LISTED_EVENTS = 20
MORE = "more events"


def _event_finding(event, lead):
    concept, severity = _EVENT_CONCEPTS[event.kind]
    display = None
    if event.kind == "ventricular_run":
        if event.rate_bpm is not None and event.rate_bpm <= VT_RATE_BPM:
            concept = IDIOVENTRICULAR
        elif event.end_s - event.start_s >= SUSTAINED_VT_S:
            severity, display = "urgent", "Sustained ventricular tachycardia"
    elif event.kind == "supraventricular_run" and (event.rate_bpm or 0) <= SVT_RATE_BPM:
        concept = SV_RUN
    elif event.kind == "pause" and (event.value or 0) < PAUSE_ABNORMAL_S:
        severity = "info"
    kw = {"display": display} if display else {}
    value, unit = event.value, event.unit
    if value is None and event.rate_bpm is not None:
        value, unit = _round(event.rate_bpm), "bpm"
    return _f(concept, severity, start_s=round(event.start_s, 2), end_s=round(event.end_s, 2),
              leads=(lead,) if lead else (), value=value, unit=unit, evidence=event.evidence,
              unsure=bool(event.unsure), **kw)


def _event_findings(events, lead):
    """Return one finding per event (the worst first when a kind has very many), and the
    stretches the events module found unreadable as not-assessed items."""
    findings, unreadable = [], []
    by_kind = {}
    for ev in events:
        if ev.kind == "unreadable":
            unreadable.append(ev)
        elif ev.kind in _EVENT_CONCEPTS:
            by_kind.setdefault(ev.kind, []).append(_event_finding(ev, lead))
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    for items in by_kind.values():
        items.sort(key=lambda f: (order[f.severity], -(f.value or 0) if f.unit == "s" else 0))
        findings.extend(items[:MAX_LISTED_EVENTS])
        if len(items) > MAX_LISTED_EVENTS:
            rest = items[MAX_LISTED_EVENTS:]
            first = rest[0]
            findings.append(Finding(first.code, first.display, first.severity,
                                    leads=first.leads, value=len(rest), unit=MORE,
                                    evidence=f"{len(rest)} more like the ones listed"))
    not_assessed = []
    if unreadable:
        total = sum(ev.end_s - ev.start_s for ev in unreadable)
        spans = ", ".join(f"{_t(ev.start_s)}-{_t(ev.end_s)}" for ev in unreadable[:5])
        more = f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        not_assessed.append(NotAssessed(
            f"Rhythm during {total:.0f} s of the recording ({spans}{more})",
            "the signal is unreadable there (artefact or lost contact); a gap is never read as a pause",
            "input"))
    return findings, not_assessed


def _interval_findings(intervals, lead, rhythm_label):
    """Return findings and measurements from ``ml.delineate`` intervals."""
    if intervals is None:
        return [], {}
    leads = (lead,) if lead else ()
    m = {k: _round(getattr(intervals, k, None)) for k in ("pr_ms", "qrs_ms", "qt_ms", "qtc_ms")}
    m = {k: v for k, v in m.items() if v is not None}
    out = []
    pr, qrs, qtc = m.get("pr_ms"), m.get("qrs_ms"), m.get("qtc_ms")
    if pr is not None and pr > PR_LONG_MS and rhythm_label != "atrial_fibrillation":
        # Stated, not flagged: first-degree AV block is usually benign, and one lead's PR is
        # over-measured on home strips (PR > 200 ms in 243 of 2198 CinC 2017 normal strips,
        # ml/reports/delineation.md).
        out.append(_f(FIRST_DEGREE_AV_BLOCK, "info", leads=leads, value=pr, unit="ms",
                      evidence=f"PR interval {pr} ms (above {PR_LONG_MS} ms)"))
    if qrs is not None and qrs >= QRS_WIDE_MS:
        out.append(_f(WIDE_QRS, "abnormal", leads=leads, value=qrs, unit="ms",
                      evidence=f"QRS duration {qrs} ms (at or above {QRS_WIDE_MS} ms)"))
    if qtc is not None and qtc > QTC_LONG_MS:
        severity = "abnormal"
        out.append(_f(PROLONGED_QT, severity, leads=leads, value=qtc, unit="ms",
                      evidence=f"QTc {qtc} ms ({getattr(intervals, 'qtc_method', '') or 'corrected'}; "
                               f"above {QTC_LONG_MS} ms"
                               + (f", at or above {QTC_HIGH_RISK_MS} ms: high risk" if qtc >= QTC_HIGH_RISK_MS else "")
                               + ")"))
    return out, m


def _scope(*, kind, n_leads, duration_s, rhythm_label, intervals, has_grid, twelve_lead=None, leads_unread=""):
    """Return what this input cannot show, or this version does not read, as NotAssessed items.

    ``leads_unread``: why a 12-lead input gave no 12-lead reading (``ml.io.recording.Recording``).
    """
    out = []
    if twelve_lead is not None:  # the 12-lead reading says itself what it did not read
        out += list(twelve_lead.not_assessed)
        if "st" not in twelve_lead.assessed:  # a 12-lead ECG shows them: never normal unread
            out.append(NotAssessed(ACUTE_MI_WHAT, ACUTE_MI_UNREAD_WHY, "product"))
        elif not TWELVE_LEAD_ST_VALIDATED:
            out.append(NotAssessed(ACUTE_MI_WHAT, ACUTE_MI_WHY, "product"))
        if duration_s is not None and duration_s < SNAPSHOT_S:
            out.append(NotAssessed(EVENTS_WHAT, f"the recording lasts {duration_s:.0f} s and shows only "
                                                "what happened during it", "input"))
        return out
    if kind == "image-beat":
        out.append(NotAssessed(RHYTHM_WHAT, "a single-beat picture has no rhythm", "input"))
        out.append(NotAssessed(ST_WHAT, "a single-beat picture of one lead cannot show them", "input"))
        return out
    if n_leads >= TWELVE_LEAD:
        # A 12-lead ECG shows them: left unread, the reading is never "normal" (limit "product").
        why = leads_unread or "the 12 leads could not be read separately from this input"
        out.append(NotAssessed(ST_WHAT, f"{why}; the ST segments of this 12-lead ECG were not read", "product"))
        out.append(NotAssessed(MORPHOLOGY_WHAT, f"{why}; one lead was read for the rhythm and the beats",
                               "product"))
    else:
        leads = "one lead" if n_leads <= 1 else f"{n_leads} leads"
        out.append(NotAssessed(ST_WHAT, f"{leads} only: a heart attack is read from a 12-lead ECG",
                               "input"))
        out.append(NotAssessed(MORPHOLOGY_WHAT, f"{leads} only", "input"))
    if duration_s is not None and duration_s < SNAPSHOT_S:
        out.append(NotAssessed(EVENTS_WHAT, f"the recording lasts {duration_s:.0f} s and shows only "
                                            "what happened during it", "input"))
    if kind == "image-strip" and not has_grid:
        out.append(NotAssessed("PR, QRS and QT intervals", "no ECG paper grid was found in the picture, "
                                                         "so its time scale is not known", "input"))
    elif intervals is None:
        out.append(NotAssessed("PR, QRS and QT intervals", "too few clean beats of one shape to "
                                                         "measure them", "input"))
    elif getattr(intervals, "pr_ms", None) is None and rhythm_label != "atrial_fibrillation":
        out.append(NotAssessed("PR interval", "no consistent P wave was found before the beats", "input"))
    return out


# A complete block widens the QRS in every lead, lead II included: when a picture's panels
# measure a wide QRS that its 10-s rhythm strip (many beats) does not show, the panels are wrong.
# On 100 LUDB records drawn and read back, false blocks came with a strip QRS of 86 ms; true
# ones with >= 138 ms (chosen on LUDB, not cross-validated: few cases).
STRIP_QRS_NARROW_MS = 100


def _panels_checked(findings, measurements, intervals):
    """Return a picture's 12-lead findings without conduction statements its rhythm strip
    contradicts, and a NotAssessed saying so (or None)."""
    panel_qrs = measurements.get("qrs_ms")
    strip_qrs = getattr(intervals, "qrs_ms", None)
    if panel_qrs is None or strip_qrs is None or panel_qrs < QRS_WIDE_MS or strip_qrs >= STRIP_QRS_NARROW_MS:
        return findings, None
    kept = [f for f in findings if f.code not in CONDUCTION_CODES]
    return kept, NotAssessed(
        "Bundle branch blocks and conduction delays",
        f"the report's 2.5-s panels measured a QRS of {panel_qrs:.0f} ms but its rhythm strip {strip_qrs:.0f} ms; "
        "the panels were not trusted for it", "input")


def _from_picture(finding):
    """Return a 12-lead finding read off a picture, no more than ``abnormal``: through digitised
    2.5-s panels, 6 of 192 LUDB pages without STEMI got an urgent finding (a distorted lead widens
    the QRS and sets off the criteria for wide complexes; ml/reports/twelve_lead.md)."""
    if finding.severity != "urgent":
        return finding
    return replace(finding, severity="abnormal",
                   evidence=finding.evidence + "; read from a picture: a clinician must confirm it at once")


class _Merged:
    """The 12-lead reading's global intervals, with one lead's where it has none."""

    def __init__(self, intervals, measurements):
        for key in ("pr_ms", "qrs_ms", "qt_ms", "qtc_ms"):
            setattr(self, key, measurements.get(key, getattr(intervals, key, None)))
        self.qtc_method = getattr(intervals, "qtc_method", "") or "Fridericia"


def assess(*, kind, n_leads=1, lead=None, duration_s=None, counts=None, heart_rate=None,
           rhythm=None, events=(), intervals=None, has_grid=True, single_beat_label=None,
           twelve_lead=None, leads_unread=""):
    """Return the :class:`Assessment` of an analysed ECG.

    ``kind`` is the recording's kind (``ml.io.recording.KINDS``), ``n_leads`` the number of ECG
    leads the input holds (a 12-lead file or report: 12), ``counts`` the
    beats per class code, ``heart_rate`` the result's heart-rate dict (its ``mean`` is the one
    rate shown everywhere), ``rhythm`` the ``ml.rhythm`` verdict, ``events`` the ``ml.events``
    events, ``intervals`` the ``ml.delineate`` measurement (or None), ``has_grid`` False for a
    picture whose time scale was assumed, ``single_beat_label`` the class of a single-beat plot,
    ``twelve_lead`` the ``ml.twelve_lead`` reading of a 12-lead input (its ST, Q-wave, axis,
    block and hypertrophy findings and global intervals; it replaces one lead's shape calls),
    ``leads_unread`` why a 12-lead input has none (said where the reading lists what it did not assess).
    """
    counts = counts or {}
    rate = (heart_rate or {}).get("mean")
    label = (rhythm or {}).get("label")
    if label == "noisy":
        return inconclusive((rhythm or {}).get("reason") or "The recording is too noisy to read.")
    findings = []
    measurements = {}
    doubt = None  # a NotAssessed when a picture's panels are contradicted by its rhythm strip
    if kind == "image-beat":
        code = single_beat_label or (max(counts, key=counts.get) if counts else None)
        concept = {"V": PVC, "A": PAC, "E": VENTRICULAR_ESCAPE, "L": LBBB, "R": RBBB,
                   "P": PACED, "VF": VF}.get(code)
        if concept is not None:
            # As for a signal's beats: paced beats are the device at work (info), VF urgent.
            severity = {"VF": "urgent", "P": "info"}.get(code, "abnormal")
            findings.append(_f(concept, severity, evidence="The single beat has this shape (beat model)",
                               basis="beats"))
    else:
        findings += _based(_rhythm_findings(rhythm, rate, lead, duration_s), "rhythm")
        findings += _based(_beat_findings(counts, lead), "beats")
        event_findings, unreadable = _event_findings(events, lead)
        findings += _based(event_findings, "events")
        measured_by = intervals if kind == "signal" or has_grid else None
        if twelve_lead is not None:
            measured_by = _Merged(intervals, twelve_lead.measurements)
        interval_findings, measured = _interval_findings(measured_by, lead, label)
        if twelve_lead is not None:
            findings = [f for f in findings if f.code not in CONDUCTION_CODES]
            interval_findings = [f for f in interval_findings if f.code != WIDE_QRS[0]]
            panel_findings = _based(twelve_lead.findings, "leads")
            if kind == "image-strip":
                panel_findings, doubt = _panels_checked(panel_findings, twelve_lead.measurements, intervals)
                panel_findings = [_from_picture(f) for f in panel_findings]
            findings += panel_findings
            measured.update({k: v for k, v in twelve_lead.measurements.items() if v is not None})
            if doubt is not None:
                measured["qrs_ms"] = _round(intervals.qrs_ms)
        findings += _based(interval_findings, "intervals")
        measurements.update(measured)
        if rate is not None:
            measurements["heart_rate_bpm"] = _round(rate)
    not_assessed = _scope(kind=kind, n_leads=n_leads, duration_s=duration_s, rhythm_label=label,
                          intervals=intervals, has_grid=has_grid, twelve_lead=twelve_lead,
                          leads_unread=leads_unread)
    if doubt is not None:
        not_assessed.append(doubt)
    if kind != "image-beat":
        not_assessed += unreadable
    return Assessment(level=level_of(findings, not_assessed), findings=_ordered(findings),
                      measurements=measurements, not_assessed=not_assessed)


def with_symptoms(reading, symptoms):
    """Return a stored reading (JSON form) with the symptoms the patient reported
    (:data:`SYMPTOMS` keys) and the level they call for."""
    if not reading:
        return reading
    symptoms = [s for s in SYMPTOMS if s in set(symptoms or ())]
    findings = [Finding.from_dict(f) for f in reading.get("findings") or []]
    not_assessed = [NotAssessed.from_dict(n) for n in reading.get("not_assessed") or []]
    return dict(reading, symptoms=symptoms, level=level_of(findings, not_assessed, symptoms))


# What a clinician can add to a reading in a review (the model missed it): rhythms first.
# Severities are the ones this module gives the same statement; STEMI is urgent.
CLINICIAN_RHYTHMS = (SINUS_RHYTHM, SINUS_BRADYCARDIA, SINUS_TACHYCARDIA, ATRIAL_FIBRILLATION,
                     ("164890007", "Atrial flutter"), OTHER_RHYTHM, PACED)
CLINICIAN_FINDINGS = CLINICIAN_RHYTHMS + (
    FIRST_DEGREE_AV_BLOCK, COMPLETE_LBBB, COMPLETE_RBBB, INCOMPLETE_RBBB, PROLONGED_QT, VT, PAUSE,
    ("164931005", "ST elevation: STEMI criteria met"), ("429622005", "ST depression"),
    ("164917005", "Pathological Q waves: possible old infarction (scar)"),
    ("164873001", "Left ventricular hypertrophy (voltage)"))
_CLINICIAN_SEVERITY = {SINUS_RHYTHM[0]: "info", SINUS_BRADYCARDIA[0]: "info", PACED[0]: "info",
                       FIRST_DEGREE_AV_BLOCK[0]: "info", "164931005": "urgent"}
_RHYTHM_CODES = {c[0] for c in CLINICIAN_RHYTHMS} | {BRADYCARDIA[0], TACHYCARDIA[0]}


def revise(reading, *, counts=None, events=None, lead=None, decisions=None, rhythm=None, added=(),
           complete=False, reviewer=""):
    """Return a stored reading (JSON form) as a clinician's review leaves it.

    ``counts`` and ``events`` (``ml.events``) come from the corrected beats: when given, the
    findings based on beats and events are derived from them again. ``decisions`` maps a
    finding's :attr:`Finding.key` to ``"confirmed"`` or ``"rejected"``; ``rhythm`` (a code of
    :data:`CLINICIAN_RHYTHMS`) replaces the rhythm statements; ``added`` are codes of
    :data:`CLINICIAN_FINDINGS`. ``complete`` means the clinician read the whole ECG: what this
    version does not read (``limit == "product"``) is then covered. The level follows
    :func:`level_of`; the rejected findings stay in ``review`` so the model's reading is never lost.
    """
    findings = [Finding.from_dict(f) for f in reading.get("findings") or []]
    if counts is not None:
        derived = _based(_beat_findings(counts, lead), "beats")
        if events is not None:
            derived += _based(_event_findings(events, lead)[0], "events")
        if any(f.basis == "leads" for f in findings):
            derived = [f for f in derived if f.code not in CONDUCTION_CODES]
        findings = [f for f in findings if f.basis not in ("beats", "events")] + derived
    decisions = dict(decisions or {})
    if rhythm:
        decisions.update({f.key: "rejected" for f in findings
                          if f.basis == "rhythm" or (f.code in _RHYTHM_CODES and f.start_s is None)})
        decisions[rhythm] = "confirmed"
        added = (rhythm, *added)
    rejected = [f for f in findings if decisions.get(f.key) == "rejected"]
    kept = [replace(f, reviewed="confirmed") if decisions.get(f.key) == "confirmed" else f
            for f in findings if f not in rejected]
    names = dict(CLINICIAN_FINDINGS)
    for code in dict.fromkeys(added):
        if code in names and not any(f.code == code and f.start_s is None for f in kept):
            kept.append(Finding(code, names[code], _CLINICIAN_SEVERITY.get(code, "abnormal"),
                                leads=(lead,) if lead else (), evidence=f"Added by {reviewer or 'a clinician'}",
                                basis="clinician", reviewed="added"))
    not_assessed = [NotAssessed.from_dict(n) for n in reading.get("not_assessed") or []]
    covered = [n for n in not_assessed if complete and n.limit == "product"]
    not_assessed = [n for n in not_assessed if n not in covered]
    symptoms = reading.get("symptoms") or []
    out = Assessment(level_of(kept, not_assessed, symptoms), _ordered(kept),
                     dict(reading.get("measurements") or {}), not_assessed).to_dict()
    out["symptoms"] = symptoms
    out["review"] = {"by": reviewer, "complete": bool(complete),
                     "rejected": [f.to_dict() for f in rejected],
                     "read_by_clinician": [n.what for n in covered]}
    return out


LEVEL_TITLES = {
    "normal": "Normal reading",
    "abnormal": "Abnormal: a doctor should see it",
    "urgent": "Urgent",
    "inconclusive": "Inconclusive",
}


def _value_text(finding):
    value, unit = finding.get("value"), finding.get("unit")
    if value is None:
        return ""
    if unit == "beats" and value == 1:
        unit = "beat"
    shown = f"{value:g}" if isinstance(value, (int, float)) else str(value)
    return {"bpm": f"{shown}/min", "%": f"{shown} %", None: shown}.get(unit, f"{shown} {unit}")


def conclusion(assessment):
    """Return the one-paragraph clinical conclusion of a stored assessment (its JSON form).

    It is what the FHIR DiagnosticReport's ``conclusion``, the PDF and the API's summary say:
    findings grouped by kind in their stored order (most severe first), then what was not assessed.
    """
    findings = assessment.get("findings") or []
    groups = {}  # in the stored order: most severe first (_ordered)
    for f in findings:
        groups.setdefault(f["display"], []).append(f)
    parts = []
    for display, items in groups.items():
        count = sum(int(f["value"]) if f.get("unit") == MORE else 1 for f in items)
        if count == 1:
            value = _value_text(items[0])
            parts.append(f"{display} ({value})" if value else display)
        else:
            timed = [f for f in items if f.get("unit") == "s" and f.get("value") is not None]
            extra = f", longest {max(f['value'] for f in timed):g} s" if timed else ""
            parts.append(f"{display}: {count}{extra}")
    title = LEVEL_TITLES[assessment["level"]]
    text = f"{title}. " + ("; ".join(parts) + "." if parts else "")
    missing = [n["what"] for n in assessment.get("not_assessed") or []]
    if missing:
        text += " Not assessed: " + "; ".join(missing) + "."
    review = assessment.get("review")
    if review:
        rejected = sorted({f["display"] for f in review.get("rejected") or []})
        text += f" Reviewed by {review.get('by') or 'a clinician'}" + (
            f" (not confirmed: {'; '.join(rejected)})" if rejected else "") + "."
    symptoms = [name.lower() for name in symptom_names(assessment.get("symptoms"))]
    if symptoms:
        text += " Reported symptoms: " + ", ".join(symptoms) + "."
    return text.strip()
