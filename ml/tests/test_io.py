"""ml.io.load: every supported format round-trips a real record; every bad input gets a clear error."""

import numpy as np
import pytest

from ml import errors
from ml.io import load

SECONDS = 5


@pytest.fixture(scope="session")
def segment(mitdb):
    """Return (all leads in mV, names, fs) of the first SECONDS of a record."""
    import wfdb

    cache = {}

    def get(record="100"):
        if record not in cache:
            rec = wfdb.rdrecord(str(mitdb / record), sampto=SECONDS * 360)
            cache[record] = (rec.p_signal.astype(np.float64), list(rec.sig_name), float(rec.fs))
        return cache[record]

    return get


def _mlii(segment, record="100"):
    x, names, fs = segment(record)
    return x[:, names.index("MLII")], fs


def _write_wfdb(folder, name, x, names, fs):
    import wfdb

    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(names), sig_name=names, p_signal=x,
                fmt=["16"] * len(names), adc_gain=[200.0] * len(names), baseline=[0] * len(names),
                write_dir=str(folder))
    return folder / f"{name}.hea"


# --- round trips ----------------------------------------------------------------------------------


def test_wfdb_picks_mlii_and_says_so(tmp_path, segment):
    x, names, fs = segment("100")
    assert names == ["MLII", "V5"]
    # MLII second in the file: it is still the lead chosen.
    hea = _write_wfdb(tmp_path, "rt", x[:, ::-1], names[::-1], fs)
    rec = load(hea, lead="V5")
    assert rec.lead == "MLII" and rec.kind == "signal" and rec.fs == 360
    assert len(rec.signal) == len(x)
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=0.006)
    assert any("MLII" in n and "V5 was asked for" in n for n in rec.notes)


def test_wfdb_without_mlii_uses_first_lead(tmp_path, segment):
    x, _, fs = segment("100")
    hea = _write_wfdb(tmp_path, "nomlii", x, ["V1", "V5"], fs)
    rec = load(hea)
    assert rec.lead == "V1"
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=0.006)
    assert any("first in the file" in n and "no MLII" in n for n in rec.notes)


def test_wfdb_header_renamed_on_upload_still_reads(tmp_path, segment):
    x, names, fs = segment("100")
    hea = _write_wfdb(tmp_path, "orig", x, names, fs)
    renamed = tmp_path / "upload_1234.hea"
    hea.rename(renamed)
    rec = load(renamed, filename="my.hea")
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=0.006)


def test_csv_single_column_with_fs_given(tmp_path, segment):
    x, fs = _mlii(segment)
    path = tmp_path / "one.csv"
    np.savetxt(path, x, fmt="%.4f")
    rec = load(path, fs=360)
    assert rec.fs == 360 and len(rec.signal) == len(x)
    np.testing.assert_allclose(rec.signal, x, atol=1e-4)
    assert any("360 Hz taken from the form" in n for n in rec.notes)


def test_csv_header_row_and_lead_choice(tmp_path, segment):
    x, names, fs = segment("100")
    path = tmp_path / "two.csv"
    np.savetxt(path, x[:, ::-1], fmt="%.4f", delimiter=",", header="V5,MLII", comments="")
    rec = load(path, fs=fs)
    assert rec.lead == "MLII"
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=1e-4)


def test_csv_multiple_columns_requested_lead_without_mlii(tmp_path, segment):
    x, _, fs = segment("100")
    path = tmp_path / "leads.csv"
    np.savetxt(path, x, fmt="%.4f", delimiter=",", header="I,V5", comments="")
    rec = load(path, fs=fs, lead="V5")
    assert rec.lead == "V5"
    np.testing.assert_allclose(rec.signal, x[:, 1], atol=1e-4)
    assert any("as requested" in n for n in rec.notes)


def test_csv_time_column_gives_the_sampling_rate(tmp_path, segment):
    x, fs = _mlii(segment)
    t = np.arange(len(x)) / fs
    path = tmp_path / "timed.csv"
    np.savetxt(path, np.column_stack([t, x]), fmt="%.6f", delimiter=",", header="time,MLII", comments="")
    rec = load(path, fs=250)  # a wrong form value loses to the file
    assert rec.fs == 360 and len(rec.signal) == len(x)
    np.testing.assert_allclose(rec.signal, x, atol=1e-4)
    assert any("computed from the time column" in n for n in rec.notes)
    assert any("250 Hz entered in the form was ignored" in n for n in rec.notes)


def test_csv_time_column_in_ms_without_header(tmp_path, segment):
    x, fs = _mlii(segment)
    t_ms = np.arange(len(x)) * 1000.0 / fs
    path = tmp_path / "ms.csv"
    np.savetxt(path, np.column_stack([t_ms, x]), fmt="%.4f", delimiter=",")
    rec = load(path)
    assert rec.fs == 360
    np.testing.assert_allclose(rec.signal, x, atol=1e-4)


@pytest.mark.parametrize("delimiter,decimal", [(";", ","), ("\t", "."), ("\t", ",")])
def test_csv_semicolon_and_tab(tmp_path, segment, delimiter, decimal):
    x, names, fs = segment("100")
    lines = [delimiter.join(names)]
    lines += [delimiter.join(f"{v:.4f}".replace(".", decimal) for v in row) for row in x]
    path = tmp_path / "eu.csv"
    path.write_text("\n".join(lines) + "\n")
    rec = load(path, fs=fs)
    assert rec.lead == "MLII" and len(rec.signal) == len(x)
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=1e-4)


def test_edf_round_trip_in_microvolts(tmp_path, segment):
    import edfio

    x, names, fs = segment("100")
    sigs = [edfio.EdfSignal(x[:, 1] * 1000, sampling_frequency=fs, label="ECG V5", physical_dimension="uV"),
            edfio.EdfSignal(x[:, 0] * 1000, sampling_frequency=fs, label="ECG MLII", physical_dimension="uV"),
            edfio.EdfSignal(np.sin(np.arange(len(x)) / 50), sampling_frequency=fs, label="Resp")]
    path = tmp_path / "rec.edf"
    edfio.Edf(sigs).write(path)
    rec = load(path)
    assert rec.fs == 360 and rec.lead == "ECG MLII" and len(rec.signal) == len(x)
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=0.005)
    assert any("converted from uV to mV" in n for n in rec.notes)


def test_numpy_array_round_trip(segment):
    x, names, fs = segment("100")
    rec = load(x[:, 0], fs=fs)
    assert rec.fs == 360 and rec.kind == "signal"
    np.testing.assert_array_equal(rec.signal, x[:, 0])
    two = load(x.T, fs=fs, lead="channel 2")  # leads along rows: time is the longer axis
    np.testing.assert_array_equal(two.signal, x[:, 1])


def test_numpy_array_needs_fs(segment):
    x, _, _ = segment("100")
    with pytest.raises(errors.SamplingRateError, match="sampling rate is needed"):
        load(x[:, 0])


# --- detection by content, not by name ----------------------------------------------------------


def test_csv_named_png_is_read_as_csv(tmp_path, segment):
    x, fs = _mlii(segment)
    path = tmp_path / "really_text.png"
    np.savetxt(path, x, fmt="%.4f")
    rec = load(path, fs=fs)
    assert rec.kind == "signal"
    np.testing.assert_allclose(rec.signal, x, atol=1e-4)


def test_png_named_csv_is_read_as_image(tmp_path, data_dir):
    # The largest of the first files: not one of the set's blank plots.
    src = max(sorted((data_dir / "ecg-images" / "train" / "Normal").glob("*.png"))[:20], key=lambda p: p.stat().st_size)
    path = tmp_path / "data.csv"
    path.write_bytes(src.read_bytes())
    rec = load(path, fs=360)
    assert rec.kind.startswith("image-")


# --- bad inputs -----------------------------------------------------------------------------------


def _raises(path, exc_type, phrase, **kw):
    with pytest.raises(exc_type) as info:
        load(path, **kw)
    assert type(info.value) is exc_type, f"{type(info.value).__name__}: {info.value}"
    assert phrase.lower() in str(info.value).lower(), str(info.value)
    return info.value


def test_empty_and_blank_files(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    _raises(empty, errors.EmptyInputError, "is empty")
    blank = tmp_path / "b.csv"
    blank.write_bytes(b"\n \r\n\t\n")
    _raises(blank, errors.EmptyInputError, "is empty")


def test_missing_path(tmp_path):
    _raises(tmp_path / "nope.csv", errors.MissingFileError, "could not be found")


def test_garbage_bytes(tmp_path):
    path = tmp_path / "g.bin"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    _raises(path, errors.UnsupportedFormatError, "not a recognised ECG format")


def test_text_that_is_not_a_table(tmp_path):
    path = tmp_path / "letter.txt"
    path.write_text("Dear doctor,\nplease find my ECG attached.\nRegards\n")
    _raises(path, errors.UnsupportedFormatError, "not a recognised ECG format")


@pytest.mark.parametrize("head,phrase", [(b"%PDF-1.7\n", "PDF"), (b"PK\x03\x04", "ZIP"), (b"GIF89a", "GIF")])
def test_known_unsupported_binary(tmp_path, head, phrase):
    path = tmp_path / "x.csv"
    path.write_bytes(head + bytes(range(256)) * 4)
    _raises(path, errors.UnsupportedFormatError, phrase)


def test_truncated_png(tmp_path, data_dir):
    src = sorted((data_dir / "ecg-images" / "train" / "Normal").glob("*.png"))[0].read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(src[: len(src) // 2])
    _raises(path, errors.UnsupportedFormatError, "damaged or incomplete")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(src[:40] + b"\x00" * 200 + src[240:])
    _raises(corrupt, errors.UnsupportedFormatError, "damaged or incomplete")


def test_wfdb_header_without_dat(tmp_path, segment):
    x, names, fs = segment("100")
    hea = _write_wfdb(tmp_path, "lonely", x, names, fs)
    (tmp_path / "lonely.dat").unlink()
    err = _raises(hea, errors.MissingFileError, "lonely.dat")
    assert ".hea file and its .dat file together" in str(err)


def test_dat_alone_asks_for_header(tmp_path, segment):
    x, names, fs = segment("100")
    _write_wfdb(tmp_path, "dat", x, names, fs)
    _raises(tmp_path / "dat.dat", errors.MissingFileError, "upload its .hea header")


def test_wfdb_with_truncated_dat(tmp_path, segment):
    x, names, fs = segment("100")
    hea = _write_wfdb(tmp_path, "short", x, names, fs)
    dat = tmp_path / "short.dat"
    dat.write_bytes(dat.read_bytes()[:1001])  # cut mid-sample
    with pytest.raises(errors.ECGInputError) as info:
        load(hea)
    assert isinstance(info.value, (errors.UnsupportedFormatError, errors.InvalidSignalError))
    assert "truncated" in str(info.value) or "2 seconds" in str(info.value), str(info.value)


def test_wfdb_with_dat_cut_to_half(tmp_path, segment):
    x, names, fs = segment("100")
    hea = _write_wfdb(tmp_path, "half", x, names, fs)
    dat = tmp_path / "half.dat"
    dat.write_bytes(dat.read_bytes()[: len(x) * 2])  # half the samples, whole frames
    rec = load(hea)  # half is there: read it, and say that the rest is missing
    assert len(rec.signal) == len(x) // 2
    assert rec.partial == f"partial: {SECONDS / 2:g} of {SECONDS} s read"


def test_csv_with_text_in_the_numbers(tmp_path):
    path = tmp_path / "words.csv"
    rows = [f"{v:.3f}" if i % 3 else "n/a" for i, v in enumerate(np.sin(np.arange(2000) / 20))]
    path.write_text("\n".join(["ecg"] + rows))
    _raises(path, errors.UnsupportedFormatError, "not numbers", fs=360)
    prose = tmp_path / "prose.csv"
    prose.write_text("\n".join(["name,value"] + [f"row{i},{'abc' if i % 2 else i}" for i in range(50)]))
    _raises(prose, errors.UnsupportedFormatError, "not look like a table of ECG samples", fs=360)


def test_csv_with_a_few_text_cells_is_not_silently_read(tmp_path, segment):
    x, fs = _mlii(segment)
    cells = [f"{v:.4f}" for v in x]
    cells[100] = "error"
    path = tmp_path / "one_bad.csv"
    path.write_text("\n".join(cells))
    _raises(path, errors.InvalidSignalError, "missing", fs=fs)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_csv_with_nan_or_inf(tmp_path, segment, bad):
    x, fs = _mlii(segment)
    cells = [f"{v:.4f}" for v in x]
    cells[720] = bad
    path = tmp_path / "gap.csv"
    path.write_text("\n".join(cells))
    err = _raises(path, errors.InvalidSignalError, "NaN/inf", fs=fs)
    assert "2.00 s" in str(err)


def test_csv_without_sampling_rate(tmp_path, segment):
    x, _ = _mlii(segment)
    path = tmp_path / "nofs.csv"
    np.savetxt(path, x, fmt="%.4f")
    err = _raises(path, errors.SamplingRateError, "Enter the sampling rate in Hz")
    assert err.code == "bad_sampling_rate"


@pytest.mark.parametrize("fs", [0, 10, 1e6, -360, float("nan"), "fast"])
def test_absurd_sampling_rate(tmp_path, segment, fs):
    x, _ = _mlii(segment)
    path = tmp_path / "fs.csv"
    np.savetxt(path, x, fmt="%.4f")
    _raises(path, errors.SamplingRateError, "sampling rate", fs=fs)
    with pytest.raises(errors.SamplingRateError, match="Hz"):
        load(x, fs=fs)


def test_absurd_rate_in_a_wfdb_header(tmp_path, segment):
    x, names, _ = segment("100")
    hea = _write_wfdb(tmp_path, "slow", x, names, 10)
    _raises(hea, errors.SamplingRateError, "not plausible for an ECG")


def test_irregular_time_column(tmp_path, segment):
    x, fs = _mlii(segment)
    t = np.arange(len(x)) / fs
    t[900:] += 0.5  # a half-second gap
    path = tmp_path / "gap.csv"
    np.savetxt(path, np.column_stack([t, x]), fmt="%.6f", delimiter=",", header="time,ecg", comments="")
    _raises(path, errors.SamplingRateError, "not evenly spaced")


def test_flat_line(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("\n".join(["0.250"] * 3600))
    _raises(path, errors.InvalidSignalError, "flat line", fs=360)
    with pytest.raises(errors.InvalidSignalError, match="flat line"):
        load(np.full(3600, 512.0), fs=360)


def test_too_short_signal(segment):
    x, fs = _mlii(segment)
    with pytest.raises(errors.InvalidSignalError, match="at least 2 seconds"):
        load(x[:300], fs=fs)


def test_empty_array():
    with pytest.raises(errors.EmptyInputError, match="empty"):
        load(np.zeros(0), fs=360)


def test_all_zero_edf(tmp_path):
    import edfio

    path = tmp_path / "zero.edf"
    edfio.Edf([edfio.EdfSignal(np.zeros(3600), sampling_frequency=360, label="ECG II",
                               physical_dimension="mV", physical_range=(-5, 5))]).write(path)
    _raises(path, errors.InvalidSignalError, "flat line")


def test_truncated_edf(tmp_path, segment):
    import edfio

    x, fs = _mlii(segment)
    path = tmp_path / "cut.edf"
    edfio.Edf([edfio.EdfSignal(x, sampling_frequency=fs, label="ECG II", physical_dimension="mV")]).write(path)
    path.write_bytes(path.read_bytes()[:300])
    _raises(path, errors.UnsupportedFormatError, "damaged or truncated")


def test_errors_carry_stable_codes():
    assert errors.MissingFileError("x").code == "missing_file"
    assert errors.InvalidSignalError("x").code == "invalid_signal"
    assert errors.EmptyInputError("x").code == "empty"
    assert issubclass(errors.SamplingRateError, errors.ECGInputError)


def test_csv_physionet_rdsamp_export(tmp_path, segment):
    x, names, fs = segment("100")
    lines = ["'Elapsed time','MLII','V5'", "'hh:mm:ss.mmm','mV','mV'"]
    for i, row in enumerate(x):
        t = i / fs
        lines.append(f"'{int(t // 60)}:{t % 60:06.3f}',{row[0]:.3f},{row[1]:.3f}")
    path = tmp_path / "rdsamp.csv"
    path.write_text("\n".join(lines))
    rec = load(path)
    assert rec.fs == 360 and rec.lead == "MLII"
    np.testing.assert_allclose(rec.signal, x[:, 0], atol=1e-3)


@pytest.mark.parametrize("name", ["time_ms", "t[ms]", "Time (msec)"])
def test_csv_time_column_named_in_milliseconds(tmp_path, segment, name):
    x, fs = _mlii(segment)
    path = tmp_path / "ms_named.csv"
    rows = [f"{round(i * 1000 / 250)},{v:.4f}" for i, v in enumerate(x)]  # 250 Hz: 4-ms steps
    path.write_text("\n".join([f"{name},ecg"] + rows))
    rec = load(path)
    assert rec.fs == 250
    assert len(rec.signal) == len(x)


def test_csv_single_column_in_microvolts_with_spaced_header(tmp_path, segment):
    x, fs = _mlii(segment)
    path = tmp_path / "uv.csv"
    path.write_bytes(("ECG (uV)\r\n" + "\r\n".join(str(int(round(v * 1000))) for v in x)).encode())
    rec = load(path, fs=fs)
    np.testing.assert_allclose(rec.signal, x, atol=1e-3)  # in mV, not raw microvolts
    assert any("converted from uV to mV" in n for n in rec.notes)


def test_sampling_rate_message_is_plain(tmp_path, segment):
    x, fs = _mlii(segment)
    path = tmp_path / "slow.csv"
    np.savetxt(path, np.column_stack([np.arange(len(x)) * 4.0, x]), fmt="%.4f", delimiter=",",
               header="seconds,ecg", comments="")  # 4 s per sample: 0.25 Hz
    err = _raises(path, errors.SamplingRateError, "0.25 Hz (computed from the time column)")
    assert "np.float" not in str(err)


def test_empty_list_is_an_empty_input():
    with pytest.raises(errors.EmptyInputError):
        load([], fs=360)
    assert load([0.0, 1.0] * 400, fs=360).fs == 360
