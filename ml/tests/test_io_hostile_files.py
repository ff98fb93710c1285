"""Odd and hostile signal files: a BDF, a truncated EDF or WFDB record, a damaged gain, an all-zero
data file, a cut-off or very long CSV. Each is read right or refused with its own reason."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml import errors
from ml.classes import CODES
from ml.io import load
from ml.io.probe import probe

REPO = Path(__file__).resolve().parents[2]
FS = 360
SECONDS = 30


@pytest.fixture(scope="module")
def mlii(mitdb):
    """Return 30 s of MIT-BIH record 119 (MLII, V1) in mV."""
    import wfdb

    rec = wfdb.rdrecord(str(mitdb / "119"), sampfrom=60 * FS, sampto=(60 + SECONDS) * FS)
    return rec.p_signal.astype(np.float64), list(rec.sig_name)


def _edf(path, x, *, bdf=False):
    """Write ``x`` (mV) as a one-signal EDF (or BDF) of 1-s data records; return its bytes."""
    import edfio

    signal_class, file_class = (edfio.BdfSignal, edfio.Bdf) if bdf else (edfio.EdfSignal, edfio.Edf)
    file_class([signal_class(x * 1000, sampling_frequency=FS, label="ECG MLII", physical_dimension="uV")]).write(path)
    return path.read_bytes()


def _cut_records(data, keep_s, *, bytes_per_sample=2):
    """Return EDF bytes keeping ``keep_s`` whole 1-s records and half of the next (a cut upload)."""
    header = 256 * 2
    record = FS * bytes_per_sample
    return data[: header + keep_s * record + record // 2]


# --- BDF ------------------------------------------------------------------------------------------


def test_a_bdf_file_is_read_like_an_edf(tmp_path, mlii):
    x, _ = mlii
    path = tmp_path / "rec.bdf"
    _edf(path, x[:, 0], bdf=True)
    rec = load(path)
    assert rec.fs == FS and rec.lead == "ECG MLII"
    assert rec.duration_s == SECONDS
    assert np.abs(rec.signal - x[:, 0]).max() < 0.01  # mV, 24-bit samples
    assert "Sampling rate 360 Hz taken from the BDF header" in rec.notes
    found = probe(path)
    assert (found.fs, found.duration_s) == (FS, SECONDS)


# --- truncated files --------------------------------------------------------------------------------


def test_an_edf_cut_to_17_of_30_s_is_read_in_part_and_says_so(tmp_path, mlii):
    x, _ = mlii
    path = tmp_path / "cut.edf"
    path.write_bytes(_cut_records(_edf(path, x[:, 0]), 17))
    rec = load(path)
    assert rec.duration_s == 17
    assert rec.partial == "partial: 17 of 30 s read"
    assert probe(path).duration_s == 17


def test_a_bdf_cut_to_17_of_30_s_is_read_in_part(tmp_path, mlii):
    x, _ = mlii
    path = tmp_path / "cut.bdf"
    path.write_bytes(_cut_records(_edf(path, x[:, 0], bdf=True), 17, bytes_per_sample=3))
    assert load(path).partial == "partial: 17 of 30 s read"


@pytest.mark.parametrize("check", [load, probe], ids=["load", "probe"])
def test_an_edf_missing_more_than_half_is_refused(tmp_path, mlii, check):
    x, _ = mlii
    path = tmp_path / "stub.edf"
    path.write_bytes(_cut_records(_edf(path, x[:, 0]), 10))
    with pytest.raises(errors.InvalidSignalError) as info:
        check(path)
    assert info.value.code == "truncated"
    assert "declares 30 s of recording, but the file holds only 10 s" in str(info.value)


def test_a_whole_edf_is_not_partial(tmp_path, mlii):
    x, _ = mlii
    path = tmp_path / "whole.edf"
    _edf(path, x[:, 0])
    assert load(path).partial is None


def _wfdb(folder, x, names, *, gains=None):
    import wfdb

    wfdb.wrsamp("rec", fs=FS, units=["mV"] * len(names), sig_name=names, p_signal=x, fmt=["16"] * len(names),
                adc_gain=[200.0] * len(names), baseline=[0] * len(names), write_dir=str(folder))
    hea = folder / "rec.hea"
    if gains:
        lines = hea.read_text().splitlines()
        for i, gain in gains.items():
            parts = lines[1 + i].split()
            parts[2] = gain
            lines[1 + i] = " ".join(parts)
        hea.write_text("\n".join(lines) + "\n")
    return hea


def test_a_wfdb_record_cut_to_18_of_30_s_is_read_in_part(tmp_path, mlii):
    x, names = mlii
    hea = _wfdb(tmp_path, x, names)
    dat = tmp_path / "rec.dat"
    dat.write_bytes(dat.read_bytes()[: 18 * FS * 2 * 2])  # 18 s of 2 signals, 2 bytes a sample
    rec = load(hea)
    assert rec.partial == "partial: 18 of 30 s read"


@pytest.mark.parametrize("check", [load, probe], ids=["load", "probe"])
def test_a_wfdb_record_missing_more_than_half_is_refused(tmp_path, mlii, check):
    x, names = mlii
    hea = _wfdb(tmp_path, x, names)
    dat = tmp_path / "rec.dat"
    dat.write_bytes(dat.read_bytes()[: 10 * FS * 2 * 2])
    with pytest.raises(errors.InvalidSignalError) as info:
        check(hea)
    assert info.value.code == "truncated"
    assert "declares 10,800 samples per signal, but its data file holds only about 3,600" in str(info.value)


def test_a_partial_read_is_carried_into_the_assessment(tmp_path, mlii):
    """The reading says what it did not see: the last 13 s, and why."""
    from ml import analyse

    class AllNormal:
        version = "test"

        def predict(self, images, context):
            probs = np.zeros((len(images), len(CODES)))
            probs[:, CODES.index("N")] = 1.0
            return probs

    x, _ = mlii
    path = tmp_path / "cut.edf"
    path.write_bytes(_cut_records(_edf(path, x[:, 0]), 17))
    result = analyse(path, classifier=AllNormal())
    assert result.status == "ok"
    missing = [n for n in result.assessment["not_assessed"] if n["why"].startswith("partial: 17 of 30 s read")]
    assert missing == [{"what": "The last 13 s of the recording", "limit": "input",
                        "why": "partial: 17 of 30 s read (the file ends before the length its header declares)"}]


# --- damaged gains, flat data -------------------------------------------------------------------------


@pytest.mark.parametrize("gain", ["-200", "-1.5e2(12)/mV", "-0.5(0)/mV"])
@pytest.mark.parametrize("check", [load, probe], ids=["load", "probe"])
def test_a_negative_wfdb_gain_is_refused_naming_the_channel(tmp_path, mlii, gain, check):
    x, names = mlii
    hea = _wfdb(tmp_path, x, names, gains={1: gain})  # channel 2 (V1); MLII is fine
    with pytest.raises(errors.InvalidSignalError) as info:
        check(hea)
    assert info.value.code == "bad_gain"
    assert "channel 2 (V1)" in str(info.value)
    assert "must be positive" in str(info.value)


@pytest.mark.parametrize("gain", ["0", "0(0)/mV"])
def test_a_wfdb_gain_of_zero_is_uncalibrated_and_read_at_the_default_gain(tmp_path, mlii, gain):
    # PhysioNet's header format: gain 0 = uncalibrated, 200 ADC units per mV may be assumed
    # (25 of the 58 SVDB records). Read, said, and no voltage-based 12-lead reading.
    x, names = mlii
    twelve = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    x12 = np.tile(x, (1, 6))
    calibrated = load(_wfdb(tmp_path, x12, twelve))
    assert calibrated.leads is not None and len(calibrated.leads) == 12
    hea = _wfdb(tmp_path, x12, twelve, gains={1: gain, 7: gain})
    assert probe(hea) is not None
    rec = load(hea)
    assert rec.lead == "II"
    assert any("uncalibrated (gain 0)" in n and "200 ADC units per mV" in n for n in rec.notes), rec.notes
    assert rec.leads is None  # no voltage or ST criterion on an assumed gain
    assert any("12-lead measurements" in n for n in rec.notes)


def test_an_uncalibrated_svdb_record_is_read(data_dir):
    path = data_dir / "svdb" / "820.hea"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rec = load(path)
    assert rec.fs == 128 and rec.duration_s > 1700
    assert any("uncalibrated" in n for n in rec.notes)


@pytest.mark.parametrize("check", [load, probe], ids=["load", "probe"])
def test_an_all_zero_dat_is_a_flat_line_not_an_empty_file(tmp_path, mlii, check):
    x, names = mlii
    hea = _wfdb(tmp_path, x, names)
    dat = tmp_path / "rec.dat"
    dat.write_bytes(bytes(dat.stat().st_size))
    with pytest.raises(errors.InvalidSignalError) as info:
        check(hea)
    assert "The signal is a flat line: no ECG was recorded" in str(info.value)
    assert "empty" not in str(info.value)


def test_a_dat_that_starts_with_zeros_is_not_a_flat_line(tmp_path, mlii):
    x, names = mlii
    x = x.copy()
    x[: 5 * FS] = 0.0  # five silent seconds before the electrodes were on
    hea = _wfdb(tmp_path, x, names)
    assert probe(hea).duration_s == SECONDS


# --- CSV --------------------------------------------------------------------------------------------


def test_a_csv_whose_last_line_was_cut_is_read_without_it(tmp_path, mlii):
    x, _ = mlii
    path = tmp_path / "cut.csv"
    rows = [f"{a:.3f},{b:.3f}" for a, b in x]
    path.write_text("MLII,V1\n" + "\n".join(rows) + "\n0.2")  # the last line lost its second cell
    rec = load(path, fs=FS)
    assert len(rec.signal) == len(x)
    assert "The last line of the file was incomplete and was ignored" in rec.notes


def test_a_csv_with_clock_times_reads_the_same_as_one_in_seconds(tmp_path, mlii):
    """Clock times are parsed cell by cell, seconds by the C parser: the same samples either way."""
    x, _ = mlii
    t = np.arange(len(x)) / FS
    seconds, clock = tmp_path / "seconds.csv", tmp_path / "clock.csv"
    seconds.write_text("time,MLII\n" + "\n".join(f"{a:.4f},{b:.3f}" for a, b in zip(t, x[:, 0])))
    clock.write_text("time,MLII\n" + "\n".join(f"{int(a // 60)}:{a % 60:07.4f},{b:.3f}" for a, b in zip(t, x[:, 0])))
    a, b = load(seconds), load(clock)
    assert a.fs == b.fs == FS
    np.testing.assert_array_equal(a.signal, b.signal)


# Peak resident memory from Linux's VmHWM: a child's ru_maxrss starts at its parent's peak.
_PEAK_RSS = """
import sys
from pathlib import Path
import ml.io.text

def peak_mb():
    line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

before = peak_mb()
rec = ml.io.text.read_text(Path(sys.argv[1]), shown="long.csv", fs=360)
assert rec.signal.size == int(sys.argv[2]), rec.signal.size
print(peak_mb() - before)
"""


@pytest.mark.slow
def test_a_dense_4_hour_csv_is_read_in_a_few_times_its_size(tmp_path, mitdb):
    """20 MB of ADC counts (4 h at 360 Hz) took 1.08 GB above the imports; now about 130 MB."""
    import wfdb

    from ecgportal.testing import require

    require(Path("/proc/self/status").is_file(), "peak memory is read from Linux's /proc")
    counts = wfdb.rdrecord(str(mitdb / "100"), channels=[0], physical=False).d_signal[:, 0]
    n = 4 * 3600 * FS
    path = tmp_path / "long.csv"
    path.write_text("MLII\n" + "\n".join(map(str, np.resize(counts, n).tolist())) + "\n")
    size_mb = path.stat().st_size / 2**20
    assert size_mb > 19
    out = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(path), str(n)], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    grown_mb = float(out.stdout.strip())
    assert grown_mb < 12 * size_mb, f"reading {size_mb:.0f} MB of CSV took {grown_mb:.0f} MB"
