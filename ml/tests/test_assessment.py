"""The clinical reading: levels, findings and what was not assessed (``ml.assessment``)."""

import json

import pytest

from ml import assessment as clinical
from ml.assessment import assess, conclusion, level_of
from ml.delineate import Intervals
from ml.events import Event
from ml.twelve_lead import TwelveLeadReading


def Ev(kind, start_s, end_s, **kw):
    """Return a real ml.events.Event."""
    return Event(kind, start_s, end_s, **kw)


def Iv(*, pr_ms=160, qrs_ms=90, qt_ms=380, qtc_ms=410):
    """Return a real ml.delineate.Intervals of one lead."""
    return Intervals(heart_rate_bpm=72.0, rr_ms=833.0, pr_ms=pr_ms, qrs_ms=qrs_ms, qt_ms=qt_ms, qtc_ms=qtc_ms,
                     qtc_method="Fridericia", p_wave="present" if pr_ms else "absent", beats_used=30,
                     lead="II", fiducials_ms={})


NORMAL_RHYTHM = {"label": "normal", "probability": 0.95, "episodes": []}
HR = {"mean": 72.0}


def codes(a):
    return [f.code for f in a.findings]


def test_a_normal_one_lead_strip_is_normal_and_says_st_was_not_assessed():
    a = assess(kind="signal", lead="I", duration_s=30, counts={"N": 36}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, intervals=Iv())
    assert a.level == "normal"
    assert codes(a) == [clinical.SINUS_RHYTHM[0]]
    st = [n for n in a.not_assessed if n.what == clinical.ST_WHAT]
    assert st and st[0].limit == "input" and "one lead" in st[0].why
    assert a.measurements == {"pr_ms": 160, "qrs_ms": 90, "qt_ms": 380, "qtc_ms": 410, "heart_rate_bpm": 72}


def test_a_12_lead_file_whose_st_segments_were_not_read_is_never_normal():
    a = assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 12}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, intervals=Iv())
    assert a.level == "inconclusive"
    assert any(n.what == clinical.ST_WHAT and n.limit == "product" for n in a.not_assessed)


def test_a_12_lead_file_read_as_one_lead_says_why_in_its_own_words():
    why = "some of its leads are uncalibrated (gain 0 in the file's header), so no voltage could be measured"
    a = assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 12}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, intervals=Iv(), leads_unread=why)
    unread = {n.what: n for n in a.not_assessed if n.what in (clinical.ST_WHAT, clinical.MORPHOLOGY_WHAT)}
    assert set(unread) == {clinical.ST_WHAT, clinical.MORPHOLOGY_WHAT}
    assert all(n.why.startswith(why) and n.limit == "product" for n in unread.values())
    assert a.level == "inconclusive"  # never reassuring about the ST segments it did not read
    generic = assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 12}, heart_rate=HR,
                     rhythm=NORMAL_RHYTHM, intervals=Iv())
    assert all("this version" not in n.why for n in generic.not_assessed)


def test_level_is_the_worst_severity_and_a_product_gap_blocks_normal():
    info = clinical.Finding("1", "x", "info")
    abnormal = clinical.Finding("2", "y", "abnormal")
    urgent = clinical.Finding("3", "z", "urgent")
    gap = clinical.NotAssessed("ST", "not read", "product")
    assert level_of([info], []) == "normal"
    assert level_of([info], [gap]) == "inconclusive"
    assert level_of([info, abnormal], [gap]) == "abnormal"
    assert level_of([abnormal, urgent], []) == "urgent"


def test_atrial_fibrillation_is_abnormal_with_its_episodes_and_burden():
    rhythm = {"label": "atrial_fibrillation", "episodes": [{"start_s": 60.0, "end_s": 960.0, "duration_s": 900.0}],
              "af_seconds": 900.0}
    a = assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000}, heart_rate=HR, rhythm=rhythm)
    assert a.level == "abnormal"
    af = [f for f in a.findings if f.code == clinical.ATRIAL_FIBRILLATION[0]]
    assert af[0].unit == "%" and af[0].value == pytest.approx(50.0)
    assert any(f.start_s == 60.0 and f.end_s == 960.0 for f in af)
    assert clinical.SINUS_RHYTHM[0] not in codes(a)


def test_runs_pauses_and_fibrillation_map_to_their_codes_and_severities():
    events = [
        Ev("ventricular_run", 812.4, 815.1, beats=5, rate_bpm=168, evidence="5 ventricular beats at 168/min"),
        Ev("ventricular_run", 100.0, 140.0, beats=120, rate_bpm=180),
        Ev("ventricular_run", 200.0, 204.0, beats=4, rate_bpm=70),
        Ev("pause", 300.0, 305.9, value=5.9, unit="s"),
        Ev("pause", 400.0, 402.4, value=2.4, unit="s"),
        Ev("ventricular_fibrillation", 500.0, 520.0),
    ]
    a = assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000, "V": 130}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, events=events)
    by_start = {f.start_s: f for f in a.findings if f.start_s is not None}
    assert by_start[812.4].code == clinical.VT[0] and by_start[812.4].severity == "abnormal"
    assert by_start[100.0].severity == "urgent" and "Sustained" in by_start[100.0].display
    assert by_start[200.0].code == clinical.IDIOVENTRICULAR[0]
    assert by_start[300.0].severity == "abnormal" and by_start[300.0].value == 5.9
    assert by_start[400.0].severity == "info"
    assert by_start[500.0].code == clinical.VF[0] and by_start[500.0].severity == "urgent"
    assert a.level == "urgent"


def test_an_unreadable_stretch_is_not_assessed_never_a_pause():
    events = [Ev("unreadable", 120.0, 131.0)]
    a = assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, events=events, intervals=Iv())
    assert clinical.PAUSE[0] not in codes(a)
    assert any("2:00-2:11" in n.what and n.limit == "input" for n in a.not_assessed)
    assert a.level == "normal"


def test_a_few_extra_beats_are_information_many_are_abnormal():
    few = assess(kind="signal", duration_s=1800, counts={"N": 1990, "V": 10}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
                 intervals=Iv())
    many = assess(kind="signal", duration_s=1800, counts={"N": 1500, "V": 500}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
                  intervals=Iv())
    assert few.level == "normal" and clinical.PVC[0] in codes(few)
    assert many.level == "abnormal"


def test_a_few_stray_shape_labels_do_not_make_a_block():
    a = assess(kind="signal", duration_s=30, counts={"N": 33, "L": 2, "R": 1}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
               intervals=Iv())
    assert a.level == "normal"
    b = assess(kind="signal", duration_s=30, counts={"N": 3, "L": 33}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
               intervals=Iv(qrs_ms=150))
    assert clinical.LBBB[0] in codes(b) and clinical.WIDE_QRS[0] in codes(b) and b.level == "abnormal"


def test_intervals_give_av_block_and_long_qt():
    a = assess(kind="signal", duration_s=30, counts={"N": 30}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
               intervals=Iv(pr_ms=240, qtc_ms=510))
    assert {clinical.FIRST_DEGREE_AV_BLOCK[0], clinical.PROLONGED_QT[0]} <= set(codes(a))
    qt = next(f for f in a.findings if f.code == clinical.PROLONGED_QT[0])
    assert "high risk" in qt.evidence


def test_unmeasurable_intervals_are_listed_as_not_assessed():
    a = assess(kind="signal", duration_s=30, counts={"N": 30}, heart_rate=HR, rhythm=NORMAL_RHYTHM, intervals=None)
    assert any(n.what.startswith("PR, QRS and QT") for n in a.not_assessed)


def test_a_noisy_recording_is_inconclusive_with_the_reason():
    a = assess(kind="signal", duration_s=30, counts={}, rhythm={"label": "noisy", "reason": "muscle noise"})
    assert a.level == "inconclusive" and a.not_assessed[0].why == "muscle noise"


def test_a_picture_without_grid_does_not_report_intervals():
    a = assess(kind="image-strip", duration_s=10, counts={"N": 12}, heart_rate=HR, rhythm=None,
               intervals=Iv(pr_ms=300), has_grid=False)
    assert clinical.FIRST_DEGREE_AV_BLOCK[0] not in codes(a)
    assert any("time scale" in n.why for n in a.not_assessed)


def test_the_json_form_is_the_contract_and_the_conclusion_says_it():
    events = [Ev("pause", 300.0, 305.9, value=5.9, unit="s", evidence="RR 5.9 s")]
    data = assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000}, heart_rate=HR,
                  rhythm=NORMAL_RHYTHM, events=events, intervals=Iv()).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"level", "findings", "measurements", "not_assessed"}
    assert set(data["findings"][0]) == {"code", "display", "severity", "start_s", "end_s", "leads", "value",
                                        "unit", "evidence", "unsure", "basis", "reviewed"}
    assert {f["basis"] for f in data["findings"]} <= {"rhythm", "beats", "events", "intervals"}
    text = conclusion(data)
    assert text.startswith("Abnormal") and "Pause (5.9 s)" in text and "Not assessed: ST segments" in text


def TwelveLead(findings, measurements, not_assessed, assessed=("st", "morphology")):
    """Return a real ml.twelve_lead.TwelveLeadReading."""
    return TwelveLeadReading(findings=findings, measurements=measurements, not_assessed=not_assessed,
                             assessed=assessed, per_lead={})


def test_a_12_lead_reading_replaces_the_product_gap_and_one_lead_shape_calls():
    stemi = clinical.Finding("164931005", "ST elevation", "urgent", leads=("V2", "V3", "V4"),
                             value=0.3, unit="mV", evidence="ST elevation 3 mm in V2-V4")
    reading = TwelveLead([stemi], {"qrs_ms": 96, "axis_deg": 40}, [])
    a = assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 2, "L": 10}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, intervals=Iv(qrs_ms=130), twelve_lead=reading)
    assert a.level == "urgent"
    assert clinical.LBBB[0] not in codes(a) and clinical.WIDE_QRS[0] not in codes(a)  # 12 leads say 96 ms
    assert a.measurements["qrs_ms"] == 96 and a.measurements["axis_deg"] == 40


def test_a_12_lead_reading_without_findings_is_not_called_normal_until_its_st_criteria_are_validated():
    reading = TwelveLead([], {"qrs_ms": 92, "pr_ms": 150, "qt_ms": 380, "qtc_ms": 400, "axis_deg": 50}, [])
    a = assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 12}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, intervals=Iv(), twelve_lead=reading)
    assert not clinical.TWELVE_LEAD_ST_VALIDATED
    assert a.level == "inconclusive"
    assert [n.what for n in a.not_assessed if n.limit == "product"] == [clinical.ACUTE_MI_WHAT]
    assert not any(n.what == clinical.ST_WHAT for n in a.not_assessed)  # ST levels were read


def test_a_gridded_picture_reports_intervals_and_an_ungridded_one_does_not():
    kw = dict(kind="image-strip", duration_s=10, counts={"N": 12}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
              intervals=Iv(qtc_ms=520))
    assert clinical.PROLONGED_QT[0] in codes(assess(has_grid=True, **kw))
    assert clinical.PROLONGED_QT[0] not in codes(assess(has_grid=False, **kw))


def test_a_12_lead_st_elevation_read_off_a_picture_is_abnormal_not_an_emergency():
    stemi = clinical.Finding("164931005", "ST elevation", "urgent", leads=("V2", "V3"), evidence="ST up")
    reading = TwelveLead([stemi], {"qrs_ms": 96}, [])
    a = assess(kind="image-strip", n_leads=12, duration_s=10, counts={"N": 12}, heart_rate=HR,
               rhythm=NORMAL_RHYTHM, intervals=Iv(), twelve_lead=reading)
    (st,) = [f for f in a.findings if f.code == "164931005"]
    assert a.level == "abnormal" and st.severity == "abnormal" and "clinician" in st.evidence


def test_a_block_the_pictures_rhythm_strip_contradicts_is_not_reported():
    lbbb = clinical.Finding("733534002", "Complete left bundle branch block", "abnormal", leads=("I", "V6"))
    reading = TwelveLead([lbbb], {"qrs_ms": 134}, [])
    kw = dict(kind="image-strip", n_leads=12, duration_s=10, counts={"N": 12}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
              twelve_lead=reading)
    narrow = assess(intervals=Iv(qrs_ms=86), **kw)
    assert "733534002" not in codes(narrow) and narrow.measurements["qrs_ms"] == 86
    assert any(n.what.startswith("Bundle branch blocks") for n in narrow.not_assessed)
    wide = assess(intervals=Iv(qrs_ms=140), **kw)
    assert "733534002" in codes(wide) and wide.measurements["qrs_ms"] == 134


def test_findings_are_stored_most_severe_first_for_every_surface():
    events = [Ev("pause", 300.0, 302.4, value=2.4, unit="s"), Ev("ventricular_fibrillation", 500.0, 520.0),
              Ev("ventricular_couplet", 100.0, 100.8)]
    a = assess(kind="signal", duration_s=1800, counts={"N": 2000}, heart_rate=HR, rhythm=NORMAL_RHYTHM,
               events=events, intervals=Iv())
    assert [f.severity for f in a.findings] == ["urgent", "abnormal", "info", "info"]
    assert a.findings[0].code == clinical.VF[0] and a.findings[2].code == clinical.SINUS_RHYTHM[0]


# --- symptoms and a clinician's review ------------------------------------------------------

def _pvc_reading():
    events = [Ev("ventricular_run", 100.0, 103.0, value=5, unit="beats", evidence="5 PVCs in a row")]
    return assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 1800, "V": 300}, heart_rate=HR,
                  rhythm=NORMAL_RHYTHM, events=events, intervals=Iv()).to_dict()


def test_chest_pain_or_fainting_makes_an_abnormal_reading_urgent_and_only_that():
    abnormal = _pvc_reading()
    assert abnormal["level"] == "abnormal"
    assert clinical.with_symptoms(abnormal, ["palpitations"])["level"] == "abnormal"
    for symptom in clinical.URGENT_WITH_SYMPTOMS:
        raised = clinical.with_symptoms(abnormal, [symptom])
        assert raised["level"] == "urgent" and raised["symptoms"] == [symptom]
        assert clinical.SYMPTOMS[symptom][1].lower() in conclusion(raised)
    normal = assess(kind="signal", lead="MLII", duration_s=30, counts={"N": 30}, heart_rate=HR,
                    rhythm=NORMAL_RHYTHM, intervals=Iv()).to_dict()
    assert clinical.with_symptoms(normal, ["chest_pain"])["level"] == "normal"
    unreadable = clinical.inconclusive("no ECG in the picture").to_dict()
    assert clinical.with_symptoms(unreadable, ["chest_pain"])["level"] == "inconclusive"
    assert clinical.with_symptoms(abnormal, ["not-a-symptom"])["symptoms"] == []


def test_relabelled_beats_derive_beat_and_event_findings_again_and_keep_the_rest():
    reading = _pvc_reading()
    assert {clinical.PVC[0], clinical.VT[0]} <= {f["code"] for f in reading["findings"]}
    revised = clinical.revise(reading, counts={"N": 2100}, events=[], lead="MLII", reviewer="Dr Who")
    codes_after = {f["code"] for f in revised["findings"]}
    assert clinical.PVC[0] not in codes_after and clinical.VT[0] not in codes_after
    assert clinical.SINUS_RHYTHM[0] in codes_after  # the rhythm finding is not derived from beats
    assert revised["level"] == "normal" and revised["review"]["by"] == "Dr Who"
    assert "Reviewed by Dr Who" in conclusion(revised)


def test_a_review_confirms_rejects_adds_and_corrects_the_rhythm_without_losing_the_model_reading():
    reading = _pvc_reading()
    vt = next(f for f in reading["findings"] if f["code"] == clinical.VT[0])
    key = clinical.Finding.from_dict(vt).key
    revised = clinical.revise(reading, decisions={key: "rejected"}, rhythm=clinical.ATRIAL_FIBRILLATION[0],
                              added=["164931005"], reviewer="Dr Who")
    by_code = {f["code"]: f for f in revised["findings"]}
    assert clinical.VT[0] not in by_code and clinical.SINUS_RHYTHM[0] not in by_code
    assert by_code[clinical.ATRIAL_FIBRILLATION[0]]["reviewed"] == "added"
    assert by_code["164931005"]["severity"] == "urgent" and revised["level"] == "urgent"
    assert {f["code"] for f in revised["review"]["rejected"]} == {clinical.VT[0], clinical.SINUS_RHYTHM[0]}
    assert "not confirmed" in conclusion(revised)
    confirmed = clinical.revise(reading, decisions={key: "confirmed"})
    assert next(f for f in confirmed["findings"] if f["code"] == clinical.VT[0])["reviewed"] == "confirmed"


def test_only_a_complete_review_covers_what_the_product_does_not_read():
    stemi_free = TwelveLead([], {"qrs_ms": 90}, [])
    reading = assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 10}, heart_rate=HR,
                     rhythm=NORMAL_RHYTHM, intervals=Iv(), twelve_lead=stemi_free).to_dict()
    assert reading["level"] == "inconclusive"
    assert clinical.revise(reading, reviewer="Dr Who")["level"] == "inconclusive"
    done = clinical.revise(reading, complete=True, reviewer="Dr Who")
    assert done["level"] == "normal"
    assert done["review"]["read_by_clinician"] == [clinical.ACUTE_MI_WHAT]
    assert all(n["limit"] == "input" for n in done["not_assessed"])
