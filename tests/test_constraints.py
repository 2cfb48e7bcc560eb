"""constraints.txt pins every requirement (requirements.txt, requirements-dev.txt) to a version they allow."""
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def requirements(name):
    out = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            out += requirements(line.split()[1])
        elif line:
            out.append(Requirement(line))
    return out


def pins():
    found = {}
    for req in requirements("constraints.txt"):
        (spec,) = req.specifier
        assert spec.operator == "==" and not req.marker, f"constraints.txt: {req} is not an exact pin"
        found[canonicalize_name(req.name)] = spec.version
    return found


def test_every_requirement_is_pinned_to_a_version_it_allows():
    pinned = pins()
    for req in requirements("requirements-dev.txt"):  # both TensorFlow lines, whatever the machine
        name = canonicalize_name(req.name)
        assert name in pinned, f"constraints.txt has no pin for {req.name}"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{req} excludes the pinned {pinned[name]}"


def test_ipykernel_skips_the_releases_that_broke_threaded_widget_updates():
    (ipykernel,) = [r for r in requirements("requirements.txt") if r.name == "ipykernel"]
    assert [v for v in ["6.29.5", "7.0.0", "7.0.1", "7.1.0"] if ipykernel.specifier.contains(v)] == ["6.29.5", "7.1.0"]


def test_nothing_imports_what_requirements_dev_dropped():
    sources = [p for p in ROOT.rglob("*.py") if ".git" not in p.parts and p != Path(__file__).resolve()]
    sources += list(ROOT.glob("notebooks/**/*.ipynb"))
    assert not [p for p in sources if "skimage" in p.read_text(errors="replace")]
    assert "scikit-image" not in (ROOT / "requirements-dev.txt").read_text()
