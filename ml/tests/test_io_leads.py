"""12-lead files: every standard lead kept, recognised by name in the spellings in common use."""

import numpy as np
import pytest

from ml.io import load
from ml.io.leads import STANDARD_LEADS, standard_name


@pytest.mark.parametrize(("label", "name"), [
    ("i", "I"), ("II", "II"), ("Lead III", "III"), ("avr", "aVR"), ("aVL", "aVL"), ("ECG aVF", "aVF"),
    ("V1", "V1"), ("c2", "V2"), ("EKG V6", "V6"), ("2", "II"), ("MLII", None), ("Resp", None), ("V7", None),
])
def test_lead_names_in_common_spellings(label, name):
    assert standard_name(label) == name


def test_a_ludb_record_keeps_its_twelve_leads(data_dir):
    from ecgportal.testing import require

    header = data_dir / "ludb" / "data" / "1.hea"
    require(header.is_file(), f"LUDB not found under {data_dir}; see ludb/SOURCE.md")
    rec = load(header)
    assert rec.n_leads == 12 and set(rec.leads) == set(STANDARD_LEADS)
    assert rec.lead.upper() == "II" and np.allclose(rec.leads["II"], rec.signal)


def test_a_csv_with_named_leads_keeps_them_and_a_two_lead_file_does_not(tmp_path):
    t = np.arange(0, 10, 1 / 250)
    beat = np.exp(-((t % 1) - 0.5) ** 2 / 0.0005)
    rows = np.column_stack([t] + [beat * (1 + i / 10) for i in range(12)])
    path = tmp_path / "twelve.csv"
    np.savetxt(path, rows, delimiter=",", header="time," + ",".join(STANDARD_LEADS), comments="")
    rec = load(path)
    assert rec.n_leads == 12 and set(rec.leads) == set(STANDARD_LEADS)
    assert np.allclose(rec.leads["V6"], beat * 2.1)
    two = tmp_path / "two.csv"
    np.savetxt(two, rows[:, :3], delimiter=",", header="time,MLII,V1", comments="")
    assert load(two).leads is None
