"""``livesegment models [NAME|FILE]``: the model table, or one model's classes and their ids
(and a trained model file's card)."""

from __future__ import annotations

import argparse
import textwrap

from livesegment.core.models.catalog import DEFAULT_MODEL


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    m = sub.add_parser("models", parents=[common], help="list the models, or one model's "
                       "classes", description="List the models; with a NAME, that model's "
                       "classes and ids (for --classes).")
    m.add_argument("name", nargs="?", metavar="NAME|FILE",
                   help="show this model's classes (a trained model file: also its card)")


def run(args: argparse.Namespace) -> int:
    from livesegment.core.models.zoo import REGISTRY, get_spec

    if args.name:
        spec = get_spec(args.name)
        header = None
        if spec.weights.kind == "file":  # a trained model: its card says more
            from livesegment.core.models.model_file import describe_card, read_model_file

            path = spec.weights.path()
            header = describe_card(read_model_file(path)[0], path)
        print(model_details(spec, header=header))
        return 0
    rows = [("NAME", "CLASSES", "SIZE", "WEIGHTS", "LICENCE")]
    for spec in REGISTRY.values():
        name = spec.name + (" (default)" if spec.name == DEFAULT_MODEL else "")
        licence = spec.licence.split(" (")[0]  # the full credit is in the model's detail view
        rows.append((name, str(spec.num_classes), str(spec.default_size),
                     spec.weights.status(), licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("\nclasses of a model: livesegment models NAME")
    return 0


def model_details(spec, width: int = 80, header: list[str] | None = None) -> str:
    """A model's facts (or ``header``: a model card's lines, kept whole) and its classes as
    ``id name`` columns that fit ``width``."""
    facts = header or [
        f"{spec.name}: {spec.title}",
        f"  input short side {spec.default_size} px (multiple of {spec.size_multiple}), "
        f"weights {spec.weights.status()}",
        f"  licence {spec.licence}"]
    lines = ["", f"classes (--classes takes names or ids; {spec.categories[spec.background]} "
             "is never painted):"]
    cells = [f"{i:>3} {name}" for i, name in enumerate(spec.categories)]
    cell = max(len(c) for c in cells) + 2
    per_row = max(1, (width - 2) // cell)
    rows = -(-len(cells) // per_row)  # column-major, like ls
    for r in range(rows):
        line = "".join(cells[i].ljust(cell) for i in range(r, len(cells), rows))
        lines.append(("  " + line).rstrip())
    if header is None:
        facts = [textwrap.shorten(ln, width, placeholder="...") if len(ln) > width else ln
                 for ln in facts]
    return "\n".join(facts + lines)
