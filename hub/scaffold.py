"""``hub new connector NAME``: a connector package made from ``hub/templates/connector``, ready to test and run.

The package is an installable project of its own (like an out-of-tree connector): a manifest exported through
the ``hub.connectors`` entry point, a source and a target skeleton that already keep the contract, the standard
kit tests, a demo part, and a sample mapping in the hub's mappings folder. Registering it in
``config/extra-requirements.txt`` makes ``make`` install it (editable) into the hub's environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from hub.errors import ConfigError
from hub.registry import connector_names

TEMPLATES = Path(__file__).parent / "templates" / "connector"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,15}$")  # short: the generated lines stay within 120 columns
EXTRA_REQUIREMENTS = Path("config/extra-requirements.txt")


@dataclass
class Scaffolded:
    package: Path
    mapping: Path
    files: list[Path] = field(default_factory=list)
    registered_in: Path | None = None


def new_connector(name: str, into: Path, mappings_dir: Path, requirements: Path | None = None) -> Scaffolded:
    """Write the package ``into/name`` and the mapping ``mappings_dir/<name>_sample.yaml``; with
    ``requirements``, add the package to that file (editable) for ``make`` to install."""
    if not NAME.fullmatch(name) or name.endswith("_"):
        raise ConfigError(f"connector name {name!r}: 2 to 16 lower-case letters, digits and _, starting with a letter")
    taken = {name, f"{name}_target"} & set(connector_names())
    if taken:
        raise ConfigError(f"connector {sorted(taken)[0]!r} is already installed; choose another name")
    package = into / name
    mapping = mappings_dir / f"{name}_sample.yaml"
    for existing in (package, mapping):
        if existing.exists():
            raise ConfigError(f"{existing} already exists; choose another name or remove it")
    values = {"name": name, "module": f"{name}_connector", "camel": _camel(name),
              "title": name.replace("_", " ").capitalize(), "directory": str(package)}
    made = Scaffolded(package, mapping)
    for template in sorted(TEMPLATES.rglob("*.tmpl")):
        target = _target(template.relative_to(TEMPLATES), values, package, mapping)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(template.read_text(encoding="utf-8")).substitute(values), encoding="utf-8")
        made.files.append(target)
    if requirements is not None:
        made.registered_in = _register(package, requirements)
    return made


def _target(relative: Path, values: dict[str, str], package: Path, mapping: Path) -> Path:
    if relative == Path("mapping.yaml.tmpl"):
        return mapping
    parts = [values["module"] if part == "PKG" else part for part in relative.with_suffix("").parts]
    if parts[-1] == "test_connector.py":
        parts[-1] = f"test_{values['name']}_connector.py"
    return package.joinpath(*parts)


def _register(package: Path, requirements: Path) -> Path:
    """``-e ${PROJECT_ROOT}/<package>`` in the extra requirements (``make`` sets PROJECT_ROOT), once."""
    line = "-e ${PROJECT_ROOT}/" + package.as_posix().removeprefix("./") if not package.is_absolute() \
        else f"-e {package.as_posix()}"
    known = requirements.read_text(encoding="utf-8").splitlines() if requirements.exists() else []
    if line not in known:
        requirements.parent.mkdir(parents=True, exist_ok=True)
        with requirements.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
    return requirements


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
