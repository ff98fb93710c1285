"""Read CSV / delimited text: one or more lead columns, optional header rows and time column.

Handled: comma, semicolon, tab or whitespace delimiters; decimal commas with ``;``/tab delimiters;
quoted cells; a names row and a units row (PhysioNet's ``rdsamp -c`` export); a time column in
seconds, milliseconds or ``[h:]mm:ss.mmm`` (gives the sampling rate) or a sample-index column.

The layout (delimiter, header rows, columns) is read from the file's first and last lines; the
samples are parsed by pandas' C parser straight into a float array, so a 4-hour export (20 MB)
needs about 130 MB, not a Python string per cell (1.1 GB; ``bench/bench_file_memory.py``). Files
the C parser refuses (clock times, single-quoted or ragged cells, comment lines among the samples)
are parsed line by line, cell by cell: ten times slower, no larger.
"""

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import InvalidSignalError, SamplingRateError, UnsupportedFormatError
from ml.io.leads import UNNAMED_LEADS, choose_lead, standard_leads
from ml.io.recording import Recording, check_fs, check_signal

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")
_TIME_NAME = re.compile(r"(^t$|^t[\s_(\[]|time|^sec|seconds|elapsed|timestamp|^ms$)", re.IGNORECASE)
_INDEX_NAME = re.compile(r"(sample|index|^idx$|^n$|^#$|^no\.?$)", re.IGNORECASE)
_UNIT_IN_NAME = re.compile(r"[\(\[]\s*([µμu]?v|mv|nv|s|ms|sec)\s*[\)\]]", re.IGNORECASE)
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
_MAX_HEADER_LINES = 10
_COMMENTS = ("#", "//", "%")
# The leading part of the file whose lines give the layout, and the trailing part that shows a
# cut-off last line; the samples between are never split into Python strings.
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 8 * 1024
_BOM = b"\xef\xbb\xbf"
_BLOCK_ROWS = 65536  # rows parsed cell by cell before they are packed into an array


@dataclass
class _Layout:
    """What the first (and last) lines of a text file say about its table."""

    delimiter: str | None  # None: whitespace
    header: list  # the header rows, split into cells
    ncols: int
    decimal_comma: bool
    data_offset: int  # byte offset of the first row of samples
    last_row_short: bool  # the last line has fewer cells than the others (a cut-off upload)
    across: bool  # one long row: the samples of one lead written across


def read_text(path: Path, *, shown: str, fs=None, lead=None) -> Recording:
    """Return the Recording of the delimited text file at ``path``."""
    layout = _layout(path, shown)
    table = _parse_fast(path, layout)
    if table is None:
        table = _parse_cells(path, layout)
    notes = []
    if layout.across:
        table = table[:1].T  # one long row: the samples of one lead written across
    elif layout.last_row_short and len(table) > 1:
        table = table[:-1]  # a cut-off last line (truncated upload)
        notes.append("The last line of the file was incomplete and was ignored")
    ncols = table.shape[1]
    names, units = _names_and_units(layout.header, ncols)
    bad = np.isnan(table).mean() if table.size else 1.0
    if bad > 0.2:
        raise UnsupportedFormatError(f"{shown} is text but most of its cells are not numbers.")

    time_col, time_scale, index_col = _time_and_index_columns(table, names, units)
    lead_cols = [c for c in range(ncols) if c not in (time_col, index_col)]
    if not lead_cols:
        raise InvalidSignalError(f"{shown} has a time column but no column of ECG samples.")

    labels = [names[c] or f"column {c + 1}" for c in lead_cols]
    idx, lead_note = choose_lead(labels, lead)
    col = lead_cols[idx]
    if len(lead_cols) > 1 or names[col]:
        notes.insert(0, lead_note)

    if time_col is not None:
        rate = _rate_from_time(table[:, time_col] * time_scale, shown)
        rate = check_fs(rate, origin="computed from the time column")
        notes.append(f"Sampling rate {rate:g} Hz computed from the time column")
        if fs is not None:
            try:
                given = float(fs)
            except (TypeError, ValueError):
                given = None
            if given and abs(given - rate) > 0.01 * rate:
                notes.append(f"The {given:g} Hz entered in the form was ignored: the file's time column says {rate:g} Hz")
    elif fs is not None:
        rate = check_fs(fs, origin="entered in the form")
        notes.append(f"Sampling rate {rate:g} Hz taken from the form")
    else:
        raise SamplingRateError(
            f"{shown} has no time column, so its sampling rate is unknown. "
            "Enter the sampling rate in Hz (for example 360) with the upload."
        )

    x = table[:, col]
    unit = units[col]
    factor = _TO_MV.get(unit.lower()) if unit else None
    if factor is not None:
        if factor != 1.0:
            x = x * factor
            notes.append(f"Amplitude converted from {unit} to mV")
    else:
        finite = x[np.isfinite(x)]
        span = float(np.ptp(finite)) if finite.size else 0.0
        if span > 50:
            notes.append("Amplitude unit not stated and values are large (raw ADC counts?); amplitude in arbitrary units")
        else:
            notes.append("Amplitude unit not stated; assumed to be millivolts")
    signal = check_signal(x, fs=rate)

    def column(i):
        unit = units[lead_cols[i]]
        factor = (_TO_MV.get(unit.lower()) if unit else None) or 1.0
        return np.nan_to_num(table[:, lead_cols[i]] * factor)

    leads = standard_leads(labels, column)
    return Recording(signal=signal, fs=rate, lead=labels[idx], kind="signal", notes=notes,
                     n_leads=len(labels), leads=leads, leads_unread="" if leads else UNNAMED_LEADS)


def _layout(path: Path, shown: str) -> _Layout:
    """Return the layout of the text file at ``path``, read from its first and last lines."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        fh.seek(max(HEAD_BYTES, size - TAIL_BYTES))
        tail = fh.read() if size > HEAD_BYTES else b""
    layout = _layout_of(head, tail, shown, whole=size <= HEAD_BYTES)
    if layout is None:  # no whole row of samples in the head: a line longer than it; read them all
        layout = _layout_of(path.read_bytes(), b"", shown, whole=True)
    return layout


def _layout_of(head: bytes, tail: bytes, shown: str, *, whole: bool) -> _Layout | None:
    """Return the layout that ``head`` (the file's start) and ``tail`` (its end) show, or None when
    ``head`` holds no complete row of samples. Raise for text that is not a table."""
    start = len(_BOM) if head.startswith(_BOM) else 0
    raw_lines = head[start:].splitlines(keepends=True)
    if not whole:
        raw_lines = raw_lines[:-1]  # the window may cut the last one
    kept, offset = [], start  # (byte offset, line) of each line that is not blank or a comment
    for raw in raw_lines:
        line = _decode(raw).strip()
        if line and not line.startswith(_COMMENTS):
            kept.append((offset, line))
        offset += len(raw)
    lines = [line for _, line in kept]
    last_lines = _lines(tail.splitlines()[1:])  # the first tail line may be cut
    if not whole and not last_lines:
        return None
    delimiter = _delimiter(lines + last_lines)
    rows = [_split(line, delimiter) for line in lines]
    n_header = 0
    while n_header < len(rows) and not _is_data_row(rows[n_header]):
        n_header += 1
        if n_header > _MAX_HEADER_LINES:
            raise UnsupportedFormatError(f"{shown} is text but does not look like a table of ECG samples.")
    data = rows[n_header:]
    if not data:
        if whole:
            raise InvalidSignalError(f"{shown} has a header but no rows of samples.")
        return None
    ncols = max(len(r) for r in data[:50])
    header = rows[:n_header]
    across = whole and len(data) == 1 and ncols > 100
    if delimiter is None and (ncols == 1 or across):
        # Whitespace-delimited single column: a header such as "ECG (uV)" is one name, not two cells.
        header = [[" ".join(row)] for row in header]
    return _Layout(
        delimiter=delimiter,
        header=header,
        ncols=ncols,
        decimal_comma=delimiter in (";", "\t") and any("," in c for r in data[:50] for c in r),
        data_offset=kept[n_header][0],
        last_row_short=len(_split((last_lines or lines)[-1], delimiter)) < ncols,
        across=across,
    )


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _lines(raw_lines) -> list[str]:
    lines = (_decode(raw).strip() for raw in raw_lines)
    return [ln for ln in lines if ln and not ln.startswith(_COMMENTS)]


def _parse_fast(path: Path, layout: _Layout) -> np.ndarray | None:
    """Return the table of samples parsed by pandas' C parser, or None when it refuses a cell."""
    import pandas as pd

    with path.open("rb") as fh:
        fh.seek(layout.data_offset)
        try:
            frame = pd.read_csv(
                fh, sep=layout.delimiter or r"\s+", header=None, names=range(layout.ncols), index_col=False,
                dtype=np.float64, comment="#", decimal="," if layout.decimal_comma else ".",
                skipinitialspace=True, encoding="latin-1", engine="c",
            )
        except ValueError:  # a cell that is not a number, a ragged row (pandas' ParserError)
            return None
    return frame.to_numpy(dtype=np.float64)


def _parse_cells(path: Path, layout: _Layout) -> np.ndarray:
    """Return the table of samples read line by line, cell by cell: a cell that is not a number
    is NaN, a row longer than the others is cut."""
    ncols, decimal_comma = layout.ncols, layout.delimiter in (";", "\t")
    blocks, rows = [], []
    with path.open("rb") as fh:
        fh.seek(layout.data_offset)
        for line in io.TextIOWrapper(fh, encoding="latin-1", newline=None):
            line = line.strip()
            if not line or line.startswith(_COMMENTS):
                continue
            cells = [_number(c, decimal_comma) for c in _split(line, layout.delimiter)[:ncols]]
            rows.append(cells + [np.nan] * (ncols - len(cells)))
            if len(rows) == _BLOCK_ROWS:
                blocks.append(np.array(rows, dtype=np.float64))
                rows = []
    blocks.append(np.array(rows, dtype=np.float64).reshape(-1, ncols))
    return np.concatenate(blocks)


def _delimiter(lines: list[str]) -> str | None:
    """Return the delimiter (None: whitespace) that splits the data lines into a steady column count."""
    sample = lines[-51:] if len(lines) > 61 else lines
    if len(sample) > 2:
        sample = sample[:-1]  # the last line may be cut off (a truncated upload)
    for delim in ("\t", ";", ","):
        counts = [len(ln.split(delim)) for ln in sample]
        if counts and min(counts) >= 2 and np.mean(np.array(counts) == counts[-1]) > 0.9:
            return delim
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    cells = line.split(delimiter) if delimiter else line.split()
    return [c.strip().strip("'\"").strip() for c in cells]


def _number(cell: str, decimal_comma: bool = False) -> float:
    if decimal_comma:
        cell = cell.replace(",", ".")
    try:
        return float(cell)
    except ValueError:
        m = _CLOCK.match(cell)
        if m:
            h, mnt, sec = m.groups()
            return int(h or 0) * 3600 + int(mnt) * 60 + float(sec)
        return np.nan


def _is_data_row(row: list[str]) -> bool:
    cells = [c for c in row if c]
    return bool(cells) and all(_parses(c) for c in cells)


def _parses(cell: str) -> bool:
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return bool(_CLOCK.match(cell))
    return True


def _names_and_units(header: list[list[str]], ncols: int) -> tuple[list[str], list[str]]:
    names, units = [""] * ncols, [""] * ncols
    for row in header:
        row = (row + [""] * ncols)[:ncols]
        if all(_is_unit(c) for c in row if c) and any(row):
            units = [c if c.lower() in _TO_MV or c.lower() in ("s", "ms", "sec") else "" for c in row]
            continue
        names = row
    for i, name in enumerate(names):
        m = _UNIT_IN_NAME.search(name)
        if m:
            units[i] = units[i] or m.group(1)
            names[i] = name[: m.start()].strip() or name
    return names, units


def _is_unit(cell: str) -> bool:
    c = cell.lower()
    return c in _TO_MV or c in ("s", "ms", "sec", "hh:mm:ss.mmm", "mm:ss.mmm", "hh:mm:ss", "samples", "adu", "units")


def _time_and_index_columns(table, names, units):
    """Return (time column, its scale to seconds, index column); None where absent."""
    ncols = table.shape[1]
    if ncols < 2:
        return None, 1.0, None
    time_col = index_col = None
    scale = 1.0
    for c, name in enumerate(names):
        if not name:
            continue
        if _INDEX_NAME.search(name) and index_col is None:
            index_col = c
        elif _TIME_NAME.search(name) and time_col is None:
            time_col = c
            unit = (units[c] or "").lower()
            # "time_ms", "t[ms]", "Time (msec)": "_" is a word character, so no \b before "ms".
            if unit == "ms" or re.search(r"(?<![a-z])ms(?![a-z])|msec|milli", name, re.IGNORECASE):
                scale = 1e-3
    if time_col is None and index_col is None and not any(names):
        first = table[:, 0]
        step = np.diff(first[np.isfinite(first)])
        if step.size and np.all(step > 0) and np.ptp(step) <= 0.5 * np.median(step) + 1e-3:
            med = float(np.median(step))
            if np.allclose(first, np.round(first)) and med == 1.0:
                index_col = 0
            else:
                time_col = 0
                scale = 1e-3 if 0.2 <= med <= 20 else 1.0
    return time_col, scale, index_col


def _rate_from_time(t: np.ndarray, shown: str) -> float:
    t = t[np.isfinite(t)]
    if t.size < 3 or t[-1] <= t[0]:
        raise SamplingRateError(f"The time column of {shown} does not increase, so the sampling rate is unknown.")
    rate = (t.size - 1) / (t[-1] - t[0])
    step = 1.0 / rate
    # Export tools round timestamps (e.g. to 1 ms); allow that, but not gaps or jitter.
    drift = np.abs(t - (t[0] + step * np.arange(t.size)))
    worst = int(np.argmax(drift))
    if drift[worst] > 1.5 * step + 1e-3:
        raise SamplingRateError(
            f"The time column of {shown} is not evenly spaced (irregular near {t[worst] - t[0]:.2f} s). "
            "Export the ECG at a fixed sampling rate."
        )
    nearest = round(rate)
    if abs(rate - nearest) < 1e-3 * rate:
        return float(nearest)
    return round(rate, 3)
