"""Parse an article file: a small ``key: value`` header between ``---`` lines, then Markdown.

Keys: title, slug, kind (beat_class | condition), summary, codes (comma separated),
conditions (comma separated slugs), reviewed_on (YYYY-MM-DD), published (yes/no) and
any number of ``reference: Source name | https://url`` lines.
"""

import datetime
from pathlib import Path

REQUIRED = ("title", "slug", "kind", "summary")


class ArticleFileError(ValueError):
    pass


def _split_list(value):
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_article(path):
    """Return the article in ``path`` as a dict; raise ArticleFileError when the header is wrong."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ArticleFileError(f"{path.name}: must start with a '---' header")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise ArticleFileError(f"{path.name}: header is not closed with '---'") from None

    header = {"references": [], "codes": [], "conditions": [], "reviewed_on": None, "published": True}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ArticleFileError(f"{path.name}:{number}: expected 'key: value'")
        key, value = key.strip(), value.strip()
        if key == "reference":
            name, bar, url = value.rpartition("|")
            if not bar or not url.strip().startswith("https://"):
                raise ArticleFileError(f"{path.name}:{number}: expected 'reference: Name | https://...'")
            header["references"].append((name.strip(), url.strip()))
        elif key in ("codes", "conditions"):
            header[key] = _split_list(value)
        elif key == "reviewed_on":
            header[key] = datetime.date.fromisoformat(value)
        elif key == "published":
            header[key] = value.lower() in {"yes", "true", "1"}
        elif key in REQUIRED:
            header[key] = value
        else:
            raise ArticleFileError(f"{path.name}:{number}: unknown key {key!r}")
    missing = [key for key in REQUIRED if not header.get(key)]
    if missing:
        raise ArticleFileError(f"{path.name}: missing {', '.join(missing)}")
    if header["kind"] not in {"beat_class", "condition"}:
        raise ArticleFileError(f"{path.name}: kind must be beat_class or condition")
    header["body"] = "\n".join(lines[end + 1 :]).strip() + "\n"
    return header
