"""The model card comes from its template: every section of the committed card is in it, and a
figure the evaluation did not supply is an error, never a blank."""

import json
import re

import jinja2
import pytest

from ml.lab import card, evaluate

REPORTS = evaluate.REPORTS


def _results(tmp_path):
    """The evaluation's results as far as the repository keeps them (ml/reports/evaluation.json,
    calibration.json, the models' .json); run facts that live only under .cache/runs are absent."""
    ev = json.loads((REPORTS / "evaluation.json").read_text())
    # Section 2c reads the svdb-half run's facts from the runs folder; any AAMI report stands in.
    (tmp_path / "svdb-half").mkdir()
    (tmp_path / "svdb-half" / "metrics.json").write_text(
        json.dumps({"test_aami": ev["cross_database"]}))
    return dict(
        inter=ev["inter_patient"], cross={"test_aami": ev["cross_database"]},
        intra_run={"test": ev["intra_patient"]}, images=dict(ev["images"], model_sha="0" * 64),
        runs=str(tmp_path),
        detection_md=evaluate._detection_md(REPORTS / "rpeak_detection.md", "MIT-BIH"),
        detection_svdb_md=evaluate._detection_md(REPORTS / "rpeak_detection_svdb.md", "SVDB"),
        commands=evaluate.COMMANDS, started=0, inter_run={},
        experiments_md=evaluate._experiments_log(),
        served_meta=json.loads((evaluate.ML_DIR / "models" / "ecg_cnn.json").read_text()),
        calib=json.loads((REPORTS / "calibration.json").read_text()))


def _headings(text):
    return [line for line in text.splitlines() if re.match(r"#{2,3} ", line)]


def test_the_template_carries_every_section_of_the_card(tmp_path):
    rendered = card.render(evaluate.card_context(**_results(tmp_path)))
    committed = evaluate.CARD.read_text()
    # make evaluate rewrites the card from the template: a hand-written section would be lost.
    missing = [h for h in _headings(committed) if h not in _headings(rendered)]
    assert missing == []
    assert _headings(rendered)[:3] == ["## Model", "## Data",
                                       "## 0. How designs are chosen: by patients, never by beats"]
    ev = json.loads((REPORTS / "evaluation.json").read_text())
    assert f"**{100 * ev['inter_patient']['accuracy']:.2f} %**" in rendered  # figures filled in
    assert "{{" not in rendered and "{%" not in rendered


def test_a_name_the_evaluation_did_not_supply_is_an_error(tmp_path):
    context = evaluate.card_context(**_results(tmp_path))
    del context["calib"]
    with pytest.raises(jinja2.UndefinedError):
        card.render(context)


def test_sections_without_their_run_say_how_to_produce_it(tmp_path):
    results = dict(_results(tmp_path), cross=None, intra_run=None, calib=None)
    rendered = card.render(evaluate.card_context(**results))
    assert "Run `python -m ml.lab.train --protocol mitdb-to-svdb`" in rendered
    assert "Not calibrated: run `python -m ml.lab.calibrate`" in rendered
    assert "Not re-measured for this recipe" in rendered
