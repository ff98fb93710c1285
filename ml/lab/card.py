"""Render the model card from its template (``ml/lab/model_card.md.j2``).

The prose lives in the template, the figures come from ``ml.lab.evaluate``: a reader edits the
card's words in one Markdown file, and ``make evaluate`` can rewrite ``ml/MODEL_CARD.md`` without
losing a hand-written section. A name the template uses but the evaluation did not supply is an
error (``StrictUndefined``), never an empty string in the card.
"""

from pathlib import Path

import jinja2

TEMPLATE = Path(__file__).resolve().parent / "model_card.md.j2"


def pct(v):
    """Return a share as a percentage with two decimals, or a dash when unknown."""
    return "—" if v is None else f"{100 * v:.2f}"


def f1(rep, code):
    """Return the F1 of class ``code`` in a metrics report, three decimals, or a dash."""
    v = rep["per_class"].get(code, {}).get("f1")
    return "—" if v is None else f"{v:.3f}"


def met(value, target):
    return "met" if value is not None and value >= target else "**missed**"


def table(rep):
    """Return the per-class table and the overall line of a metrics report."""
    lines = ["| class | n (test) | sensitivity % | +P % | F1 |", "|---|---:|---:|---:|---:|"]
    for name, m in rep["per_class"].items():
        f = "—" if m["f1"] is None else f"{m['f1']:.3f}"
        lines.append(f"| {name} | {m['support']} | {pct(m['sensitivity'])} | {pct(m['ppv'])} "
                     f"| {f} |")
    lines.append(f"\nOverall accuracy **{pct(rep['accuracy'])} %** on {rep['n']} beats; "
                 f"macro F1 {rep['macro_f1']:.3f}.")
    return "\n".join(lines)


def confusion_md(rep):
    """Return a metrics report's confusion matrix as a Markdown table (rows: truth)."""
    names = rep["class_names"]
    lines = ["| true \\ predicted | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]
    for name, row in zip(names, rep["confusion"]):
        lines.append(f"| **{name}** | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def environment(template_dir=TEMPLATE.parent):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["fmt"] = format
    env.globals.update(pct=pct, f1=f1, met=met, table=table, confusion_md=confusion_md)
    return env


def render(context, *, template=TEMPLATE):
    """Return the card's Markdown: ``template`` filled with ``context`` (names -> values)."""
    return environment(template.parent).get_template(template.name).render(**context)
