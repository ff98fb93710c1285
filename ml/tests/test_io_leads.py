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
    assert (rec.sex, rec.age) == ("F", 51.0)  # "#<sex>: F", "#<age>: 51" in its header


@pytest.mark.parametrize("lines, expected", [
    (["<age>: 51", "<sex>: F", "<diagnoses>:"], ("F", 51.0)),       # LUDB
    (["Age: 54", "Sex: Male", "Dx: 164865005"], ("M", 54.0)),       # CinC 2020 / PTB-XL
    (["age = 70", "gender: female"], ("F", 70.0)),
    (["Age: NaN", "Sex: Unknown"], (None, None)),
    (["Age: 250", "sex: X"], (None, None)),
    ([], (None, None)),
])
def test_sex_and_age_are_read_from_header_comments(lines, expected):
    from ml.io.recording import sex_and_age

    assert sex_and_age(lines) == expected


def test_an_edf_plus_header_gives_sex_and_age_and_a_plain_one_gives_none(tmp_path):
    import datetime

    import edfio

    t = np.arange(0, 10, 1 / 250)
    signals = [edfio.EdfSignal(np.sin(t * 7), sampling_frequency=250, label=f"ECG {n}", physical_dimension="mV")
               for n in ("I", "II")]
    plus = tmp_path / "plus.edf"
    edfio.Edf(signals, patient=edfio.Patient(sex="F", birthdate=datetime.date(1960, 5, 2)),
              recording=edfio.Recording(startdate=datetime.date(2020, 5, 1))).write(plus)
    rec = load(plus)
    assert rec.sex == "F" and 59.9 < rec.age < 60.0
    plain = tmp_path / "plain.edf"
    edfio.Edf(signals).write(plain)
    assert (load(plain).sex, load(plain).age) == (None, None)


def test_a_csv_with_named_leads_keeps_them_and_a_two_lead_file_does_not(tmp_path):
    t = np.arange(0, 10, 1 / 250)
    beat = np.exp(-((t % 1) - 0.5) ** 2 / 0.0005)
    rows = np.column_stack([t] + [beat * (1 + i / 10) for i in range(12)])
    path = tmp_path / "twelve.csv"
    np.savetxt(path, rows, delimiter=",", header="time," + ",".join(STANDARD_LEADS), comments="")
    rec = load(path)
    assert rec.n_leads == 12 and set(rec.leads) == set(STANDARD_LEADS)
    assert np.allclose(rec.leads["V6"], beat * 2.1)
    assert rec.leads_unread == ""
    two = tmp_path / "two.csv"
    np.savetxt(two, rows[:, :3], delimiter=",", header="time,MLII,V1", comments="")
    assert load(two).leads is None


def test_a_file_of_twelve_unnamed_channels_says_why_its_leads_were_not_read(tmp_path):
    """Twelve columns named ch1..ch12 (or a bare array): one lead is read, and the reason the 12
    leads were not is the file's, in words the result shows (ml.assessment's not-assessed list)."""
    from ml.io.leads import UNNAMED_LEADS

    t = np.arange(0, 10, 1 / 250)
    beat = np.exp(-((t % 1) - 0.5) ** 2 / 0.0005)
    rows = np.column_stack([t] + [beat * (1 + i / 10) for i in range(12)])
    path = tmp_path / "unnamed.csv"
    np.savetxt(path, rows, delimiter=",", header="time," + ",".join(f"ch{i}" for i in range(1, 13)), comments="")
    for rec in (load(path), load(rows[:, 1:], fs=250)):
        assert rec.n_leads == 12 and rec.leads is None and rec.leads_unread == UNNAMED_LEADS


def test_a_cinc_2020_mat_record_keeps_its_twelve_leads_sex_and_age(tmp_path):
    """The PhysioNet/CinC 2020-21 layout: a MATLAB v4 ``val`` matrix (12 x N, int16, 1 uV) read
    through a WFDB header that names the .mat file with a 24-byte offset (format 16+24)."""
    import scipy.io

    fs, n = 500, 5000
    t = np.arange(n) / fs
    beat = np.exp(-((t % 0.8) - 0.4) ** 2 / 0.0002)
    val = np.stack([np.round(beat * 1000 * (1 + i / 10)) for i in range(12)]).astype(np.int16)
    scipy.io.savemat(tmp_path / "JS00001.mat", {"val": val}, format="4")
    lines = [f"JS00001 12 {fs} {n}"]
    lines += [f"JS00001.mat 16+24 1000/mV 16 0 {row[0]} 0 0 {name}" for name, row in zip(STANDARD_LEADS, val)]
    lines += ["#Age: 63", "#Sex: Female", "#Dx: 426783006", "#Rx: Unknown"]
    (tmp_path / "JS00001.hea").write_text("\n".join(lines) + "\n")
    rec = load(tmp_path / "JS00001.hea")
    assert rec.n_leads == 12 and set(rec.leads) == set(STANDARD_LEADS)
    assert np.allclose(rec.leads["V6"], val[11] / 1000.0)
    assert (rec.sex, rec.age) == ("F", 63.0)


def test_a_12_lead_edf_in_microvolts_keeps_its_leads_in_millivolts_and_reads_on_all_twelve(tmp_path):
    """An EDF+ export of a 12-lead recorder: labels "ECG I" ... "ECG V6", uV, a respiration
    channel beside them; every lead kept by name, in mV, and the 12-lead reading runs on them."""
    import edfio

    from ml.twelve_lead import read_twelve_lead

    fs, seconds = 500, 10
    t = np.arange(fs * seconds) / fs
    beat = np.exp(-((t % 1.0) - 0.5) ** 2 / 0.00008) - 0.2 * np.exp(-((t % 1.0) - 0.53) ** 2 / 0.00005) \
        + 0.25 * np.exp(-((t % 1.0) - 0.8) ** 2 / 0.003)
    i, ii = 0.6 * beat, 1.0 * beat
    leads = {"I": i, "II": ii, "III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2,
             **{f"V{k}": beat * (0.4 + 0.2 * k) for k in range(1, 7)}}
    signals = [edfio.EdfSignal(leads[name] * 1000.0, sampling_frequency=fs, label=f"ECG {name}",
                               physical_dimension="uV") for name in STANDARD_LEADS]
    signals.append(edfio.EdfSignal(np.sin(t), sampling_frequency=fs, label="Resp", physical_dimension="mV"))
    path = tmp_path / "twelve.edf"
    edfio.Edf(signals).write(path)
    rec = load(path)
    assert rec.n_leads == 12 and set(rec.leads) == set(STANDARD_LEADS)
    assert np.allclose(rec.leads["V3"], leads["V3"], atol=0.002)  # uV -> mV, within the EDF's 16-bit step
    reading = read_twelve_lead(rec.leads, rec.fs)
    assert reading is not None and set(reading.per_lead) == set(STANDARD_LEADS) and reading.assessed
