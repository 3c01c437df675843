"""Binder and the JupyterHub image install what the project pins, and open the student edition.

``binder/`` is repo2docker's configuration: ``requirements.txt`` (the dependencies of pyproject.toml
at requirements.txt's exact versions, then ``.``, the package from the checkout) and ``runtime.txt``
(the Python). ``docker/hub/`` holds the JupyterHub image: its Dockerfile installs the same list plus
nbgrader, writes MNIST into the image (``write_idx.py``), copies the student edition and the start-up
hook that puts it into each student's home (``copy-student-edition``), and turns nbgrader's
instructor extensions off. Each check below is a function of a repository root that returns what it
finds wrong: the tests run it on this checkout (nothing wrong) and on a copy with one fault planted
(that fault found). No test needs the network or Docker; none builds the image.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
BINDER = "binder"
DOCKERFILE = "docker/hub/Dockerfile"
STUDENT_EDITION = "editions/student/notebooks"
BINDER_URL = re.compile(r"https://mybinder\.org/v2/gh/([^/\s]+)/([^/\s]+)/([^?\s]+)\?urlpath=lab/tree/([^\s)>`]+)")
# nbgrader's extensions, as the table of its JupyterHub guide gives them for students
# (nbgrader/docs/source/configuration/jupyterhub_config.rst): the students' tools stay on, the
# instructor's are turned off. "menu" is the Nbgrader menu that lists whichever tools are on.
STUDENT_LAB = {"assignment-list", "validate-assignment", "menu"}
INSTRUCTOR_LAB = {"formgrader", "course-list", "create-assignment"}
STUDENT_SERVER = {"assignment_list", "validate_assignment"}
INSTRUCTOR_SERVER = {"formgrader", "course_list"}
LAB_PREFIX, SERVER_PREFIX = "@jupyter/nbgrader:", "nbgrader.server_extensions."


# --------------------------------------------------------------------------- reading the files

def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]


def pins(root: Path) -> dict[str, Requirement]:
    """requirements.txt: every line an exact pin, by canonical name."""
    requirements = map(Requirement, requirement_lines(root / "requirements.txt"))
    return {canonicalize_name(r.name): r for r in requirements}


def runtime_dependencies(root: Path) -> list[Requirement]:
    return [Requirement(r) for r in project(root)["dependencies"]]


def pinned_version(requirement: Requirement) -> str | None:
    """The version of an exact pin (``name==1.2.3``), else None."""
    specs = list(requirement.specifier)
    return specs[0].version if len(specs) == 1 and specs[0].operator == "==" else None


def dockerfile_instructions(root: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in (root / DOCKERFILE).read_text().splitlines():
        if line.strip().startswith("#") or (not current and not line.strip()):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        word, _, rest = current.strip().partition(" ")
        instructions.append((word.upper(), rest.strip()))
        current = ""
    return instructions


def run_commands(root: Path) -> list[list[str]]:
    """Every command of every RUN instruction (split at &&), as words."""
    return [shlex.split(part) for word, rest in dockerfile_instructions(root) if word == "RUN"
            for part in rest.split("&&") if part.strip()]


def pip_installs(root: Path) -> tuple[list[str], list[str]]:
    """What the Dockerfile's ``pip install`` commands install: (requirement files, requirements)."""
    files, requirements = [], []
    for words in run_commands(root):
        words = [w for w in words if "=" not in w or w.startswith("-") or "==" in w]  # drop VAR=value
        if words[:2] != ["pip", "install"] and words[:4] != ["python", "-m", "pip", "install"]:
            continue
        args = iter(words[words.index("install") + 1:])
        for word in args:
            if word in ("-r", "--requirement"):
                files.append(next(args))
            elif word.startswith("--requirement="):
                files.append(word.split("=", 1)[1])
            elif not word.startswith("-"):
                requirements.append(word)
    return files, requirements


def copies(root: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY instruction."""
    found = []
    for word, rest in dockerfile_instructions(root):
        if word == "COPY":
            paths = [w for w in shlex.split(rest) if not w.startswith("--")]
            found.append((paths[:-1], paths[-1]))
    return found


def dockerfile_values(root: Path, instruction: str) -> dict[str, str]:
    """NAME=value of the ARG or ENV instructions."""
    values = {}
    for word, rest in dockerfile_instructions(root):
        if word == instruction and "=" in rest:
            name, value = rest.split("=", 1)
            values[name.strip()] = value.strip().strip('"')
    return values


def nbgrader_commands(root: Path) -> dict[str, set[str]]:
    """What the Dockerfile's jupyter commands do to nbgrader's extensions: the names given to
    ``labextension disable``, ``labextension lock`` and ``server extension disable``."""
    done = {"lab disable": set(), "lab lock": set(), "server disable": set()}
    for words in run_commands(root):
        names = [w for w in words[2:] if not w.startswith("-")]
        if words[:2] == ["jupyter", "labextension"] and names[:1] in (["disable"], ["lock"]):
            done[f"lab {names[0]}"] |= set(names[1:])
        elif words[:3] == ["jupyter", "server", "extension"] and names[1:2] == ["disable"]:
            done["server disable"] |= set(names[2:])
    return done


def python_of_runtime_txt(root: Path) -> str | None:
    match = re.fullmatch(r"python-(\d+\.\d+)", (root / BINDER / "runtime.txt").read_text().strip())
    return match.group(1) if match else None


# --------------------------------------------------------------------------- the checks

def binder_problems(root: Path) -> list[str]:
    """binder/: every line an exact pin of requirements.txt inside pyproject.toml's range, every runtime
    dependency there, the package from the checkout ("."), and the Python of the project."""
    problems, required = [], pins(root)
    ranges = {canonicalize_name(r.name): r for r in runtime_dependencies(root)}
    listed = {}
    for line in requirement_lines(root / BINDER / "requirements.txt"):
        if line == ".":
            listed["."] = line
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            problems.append(f"binder/requirements.txt: {line!r} is not a requirement")
            continue
        name, version = canonicalize_name(requirement.name), pinned_version(requirement)
        listed[name] = line
        if version is None:
            problems.append(f"binder/requirements.txt: {line} is not pinned (name==version)")
        elif name not in required:
            problems.append(f"binder/requirements.txt: {line} is not in requirements.txt")
        elif version != pinned_version(required[name]):
            problems.append(f"binder/requirements.txt: {line} is not requirements.txt's {required[name]}")
        if version is not None and name in ranges and not ranges[name].specifier.contains(version):
            problems.append(f"binder/requirements.txt: {line} is outside pyproject.toml's {ranges[name]}")
    problems += [f"binder/requirements.txt does not install {r}, a dependency of pyproject.toml"
                 for name, r in ranges.items() if name not in listed]
    if "." not in listed:
        problems.append("binder/requirements.txt does not install the package from the checkout ('.')")
    python = python_of_runtime_txt(root)
    if python is None:
        problems.append("binder/runtime.txt is not 'python-X.Y'")
    else:
        if not SpecifierSet(project(root)["requires-python"]).contains(python):
            problems.append(f"binder/runtime.txt: Python {python} is outside requires-python "
                            f"{project(root)['requires-python']}")
        environment = yaml.safe_load((root / "environment.yml").read_text())["dependencies"]
        tested = next(d.split("=", 1)[1] for d in environment
                      if isinstance(d, str) and d.startswith("python="))
        if python != tested:
            problems.append(f"binder/runtime.txt: Python {python}, but the project is tested on {tested} "
                            "(environment.yml)")
    return problems


def hub_problems(root: Path) -> list[str]:
    """docker/hub/Dockerfile: binder's list and requirements.txt's pins, the package from the build
    context, binder's Python, a pinned base image, MNIST where VAE_DATA_DIR points, the student
    edition, and nothing of instructor/."""
    problems, required = [], pins(root)
    files, extra = pip_installs(root)
    if files != [f"{BINDER}/requirements.txt"]:
        problems.append(f"the Dockerfile installs {files}, not binder's list "
                        f"({BINDER}/requirements.txt) alone")
    installed = {canonicalize_name(Requirement(line).name) for line in requirement_lines(root / BINDER /
                 "requirements.txt") if line != "."}
    for line in extra:
        requirement = Requirement(line)
        name, version = canonicalize_name(requirement.name), pinned_version(requirement)
        installed.add(name)
        if name not in required or version != pinned_version(required[name]):
            problems.append(f"the Dockerfile installs {line}: requirements.txt has "
                            f"{required.get(name, 'no pin for it')}")
    problems += [f"the Dockerfile does not install {r}" for r in runtime_dependencies(root)
                 if canonicalize_name(r.name) not in installed]

    copied = {source: dest for sources, dest in copies(root) for source in sources}
    folders = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = ["pyproject.toml", project(root)["readme"], *(f"{folder}/" for folder in folders.values()),
               f"{BINDER}/requirements.txt"]
    problems += [f"the Dockerfile does not COPY {p}, which `pip install .` of binder's list needs"
                 for p in package if p not in copied]
    for source in copied:
        path = root / source
        if source.rstrip("/") in ("", ".") or path.resolve() == root.resolve():
            problems.append(f"COPY {source} would put the whole checkout into the image, "
                            "instructor/ included")
        elif not path.exists():
            problems.append(f"COPY {source}: {source} does not exist in the checkout")
        elif "instructor" in Path(source).parts:
            problems.append(f"COPY {source}: nothing of instructor/ (the hidden tests' answers) "
                            "may be in the image")
    if f"{STUDENT_EDITION}/" not in copied:
        problems.append(f"the Dockerfile does not COPY the student edition, {STUDENT_EDITION}/")
    else:
        names = [p.name for p in series.notebooks(root / "notebooks")]
        held = sorted(p.name for p in (root / STUDENT_EDITION).glob("*.ipynb"))
        if held != names:
            problems.append(f"{STUDENT_EDITION}/ holds {held}, not the series' notebooks {names}")
    hooks = [dest for source, dest in copied.items() if source == "docker/hub/copy-student-edition"]
    if not hooks or not hooks[0].startswith("/usr/local/bin/before-notebook.d/") or hooks[0].endswith(".sh"):
        problems.append("the hook copy-student-edition must go to /usr/local/bin/before-notebook.d/ without "
                        ".sh (Docker Stacks source *.sh hooks into start.sh; an executable runs on its own)")
    if not os.access(root / "docker/hub/copy-student-edition", os.X_OK):
        problems.append("docker/hub/copy-student-edition is not executable")

    ignore = [line.strip() for line in (root / "docker/hub/Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    allowed = [line[1:] for line in ignore if line.startswith("!")]
    folders = [a for a in allowed if a.endswith("/")]
    problems += [f"Dockerfile.dockerignore keeps {source} out of the build context" for source in copied
                 if source not in allowed and not any(source.startswith(f) for f in folders)]
    if any("instructor" in a for a in allowed):
        problems.append("Dockerfile.dockerignore lets instructor/ into the build context")

    base = next(rest for word, rest in dockerfile_instructions(root) if word == "FROM")
    tag = base.rsplit(":", 1)[1] if ":" in base.rsplit("/", 1)[-1] else ""
    if not tag or tag == "latest" or not re.fullmatch(r"[0-9a-f]{12}|\d{4}-\d\d-\d\d|sha256:[0-9a-f]{64}",
                                                        tag.split("@")[-1]):
        problems.append(f"FROM {base}: the base image is not pinned (a 12-character commit tag, "
                        "a date tag or a digest)")
    python = dockerfile_values(root, "ARG").get("PYTHON")
    if python != python_of_runtime_txt(root):
        problems.append(f"the Dockerfile's ARG PYTHON={python} is not binder/runtime.txt's "
                        f"{python_of_runtime_txt(root)}")
    if not any("sys.version_info" in " ".join(words) and "${PYTHON}" in " ".join(words)
               for words in run_commands(root)):
        problems.append("the Dockerfile does not check that the base image's Python is ARG PYTHON")

    data_dir = dockerfile_values(root, "ENV").get("VAE_DATA_DIR")
    written = [words[i + 1] for words in run_commands(root)
               for i, w in enumerate(words[:-1]) if w.endswith("write_idx.py")]
    if not data_dir or written != [data_dir]:
        problems.append(f"ENV VAE_DATA_DIR={data_dir} is not the folder write_idx.py writes ({written})")
    return problems


def installed_nbgrader() -> dict:
    """The installed nbgrader's version, lab plugins (from its built lab extension) and server
    extensions (those its own config file turns on, each importable as a server extension)."""
    dist = importlib.metadata.distribution("nbgrader")
    package = Path(str(dist.locate_file("nbgrader")))
    lab = json.loads((package / "labextension" / "package.json").read_text())["name"]
    plugins = {m for js in (package / "labextension" / "static").glob("*.js")
               for m in re.findall(rf'"{re.escape(lab)}:([\w-]+)"', js.read_text(errors="replace"))}
    config = next(f for f in dist.files if f.name == "nbgrader.json" and "jupyter_server_config.d" in str(f))
    server = json.loads(Path(str(dist.locate_file(config))).read_text())["ServerApp"]["jpserver_extensions"]
    importable = {name for name in server if importlib.util.find_spec(name) is not None}
    return {"version": dist.version, "lab": lab, "plugins": plugins, "server": set(server),
            "importable": importable}


def nbgrader_problems(root: Path, nbgrader: dict) -> list[str]:
    """The Dockerfile's nbgrader commands name extensions of the installed nbgrader (the version it
    pins), turn off and lock the instructor's and leave the students' on."""
    problems = []
    _, extra = pip_installs(root)
    pinned = {canonicalize_name(Requirement(r).name): pinned_version(Requirement(r)) for r in extra}
    if pinned.get("nbgrader") != nbgrader["version"]:
        problems.append(f"the Dockerfile pins nbgrader {pinned.get('nbgrader')}; "
                        f"installed here: {nbgrader['version']}")
    unknown = nbgrader["plugins"] - STUDENT_LAB - INSTRUCTOR_LAB
    if unknown or not nbgrader["plugins"]:
        problems.append(f"the installed nbgrader's lab plugins {sorted(nbgrader['plugins'])}: "
                        f"{sorted(unknown)} is neither a student's nor an instructor's tool here")
    done = nbgrader_commands(root)
    for what, done_word in (("lab disable", "disabled"), ("lab lock", "locked")):
        for name in sorted(done[what]):
            if not name.startswith(LAB_PREFIX) or name[len(LAB_PREFIX):] not in nbgrader["plugins"]:
                problems.append(f"jupyter labextension {what[4:]} {name}: "
                                "the installed nbgrader has no such plugin")
        off = {n[len(LAB_PREFIX):] for n in done[what] if n.startswith(LAB_PREFIX)}
        problems += [f"the students' {LAB_PREFIX}{p} is {done_word}" for p in sorted(off & STUDENT_LAB)]
        problems += [f"the instructor's {LAB_PREFIX}{p} is not {done_word} for students"
                     for p in sorted(INSTRUCTOR_LAB - off)]
    for name in sorted(done["server disable"]):
        if name not in nbgrader["server"] or name not in nbgrader["importable"]:
            problems.append(f"jupyter server extension disable {name}: "
                            "the installed nbgrader has no such extension")
    off = {n[len(SERVER_PREFIX):] for n in done["server disable"] if n.startswith(SERVER_PREFIX)}
    problems += [f"the students' {SERVER_PREFIX}{e} is disabled" for e in sorted(off & STUDENT_SERVER)]
    problems += [f"the instructor's {SERVER_PREFIX}{e} is not disabled for students"
                 for e in sorted(INSTRUCTOR_SERVER - off)]
    problems += [f"the installed nbgrader has no server extension {SERVER_PREFIX}{e}"
                 for e in sorted(STUDENT_SERVER | INSTRUCTOR_SERVER)
                 if f"{SERVER_PREFIX}{e}" not in nbgrader["server"]]
    return problems


def binder_link_problems(root: Path) -> list[str]:
    """The Binder links of docs/teaching.md open the student edition of this repository's release tag."""
    url = project(root)["urls"]["Repository"].rstrip("/").removesuffix(".git")
    owner, name = url.split("/")[-2:]
    tag = f"v{project(root)['version']}"
    links = BINDER_URL.findall((root / "docs" / "teaching.md").read_text())
    problems = [] if links else ["docs/teaching.md has no Binder link"]
    for link_owner, link_name, ref, path in links:
        if (link_owner, link_name) != (owner, name):
            problems.append(f"Binder link to {link_owner}/{link_name}, not pyproject.toml's {owner}/{name}")
        if ref != tag:
            problems.append(f"Binder link to {ref}, not the release tag {tag} of pyproject.toml's version")
        if not path.startswith(f"{STUDENT_EDITION}/"):
            problems.append(f"Binder link opens {path}, not the student edition ({STUDENT_EDITION}/)")
        if not (root / path).exists():
            problems.append(f"Binder link opens {path}, which does not exist in the checkout")
    return problems


# --------------------------------------------------------------------------- the checkout passes

@pytest.fixture(scope="module")
def nbgrader():
    return installed_nbgrader()


def test_binder_pins_requirements_txt_inside_pyproject_and_installs_the_package():
    assert binder_problems(ROOT) == []
    assert python_of_runtime_txt(ROOT) == "3.11"


def test_the_hub_image_installs_binders_list_and_holds_the_student_edition_and_mnist():
    assert hub_problems(ROOT) == []
    files, extra = pip_installs(ROOT)
    assert (files, extra) == (["binder/requirements.txt"], ["nbgrader==0.9.6"])


def test_the_hub_image_turns_off_nbgraders_instructor_tools_named_as_installed(nbgrader):
    assert nbgrader["lab"] == "@jupyter/nbgrader"
    assert {"assignment-list", "validate-assignment", "formgrader"} <= nbgrader["plugins"]
    assert nbgrader_problems(ROOT, nbgrader) == []


def test_the_binder_links_open_the_student_edition_of_the_release():
    assert binder_link_problems(ROOT) == []


# --------------------------------------------------------------------------- each check can fail

def planted(tmp_path: Path, faults: list[tuple[str, str, str]]) -> Path:
    """A copy of the files the checks read, with each (file, old, new) replacement made."""
    root = tmp_path / "checkout"
    for name in ("pyproject.toml", "requirements.txt", "environment.yml", "README.md", "LICENSE",
                 "docs/teaching.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    for folder in ("binder", "docker", STUDENT_EDITION):
        shutil.copytree(ROOT / folder, root / folder)
    for folder in ("src", "tools", "bench"):
        (root / folder).symlink_to(ROOT / folder)
    (root / "notebooks").mkdir()
    for path in series.notebooks():
        (root / "notebooks" / path.name).touch()
    for name, old, new in faults:
        text = (root / name).read_text()
        assert text.count(old) == 1, f"the planted fault's {old!r} is not once in {name}"
        (root / name).write_text(text.replace(old, new))
    return root


D = DOCKERFILE
FAULTS = {
    "a binder pin that is not requirements.txt's": (
        binder_problems, [("binder/requirements.txt", "tensorflow==2.21.0", "tensorflow==2.20.0")],
        "tensorflow==2.20.0 is not requirements.txt's tensorflow==2.21.0"),
    "a binder pin outside pyproject's range, requirements.txt alike": (
        binder_problems, [("binder/requirements.txt", "keras==3.15.1", "keras==4.0.0"),
                          ("requirements.txt", "keras==3.15.1", "keras==4.0.0")],
        "keras==4.0.0 is outside pyproject.toml's keras<4,"),  # the floor: pyproject's
    "a binder line that is not pinned": (
        binder_problems, [("binder/requirements.txt", "numpy==2.4.6", "numpy>=2")], "numpy>=2 is not pinned"),
    "a runtime dependency missing from binder": (
        binder_problems, [("binder/requirements.txt", "scipy==1.17.1\n", "")], "does not install scipy"),
    "binder without the package": (
        binder_problems, [("binder/requirements.txt", "\n.\n", "\n")], "does not install the package"),
    "binder on a Python outside requires-python": (
        binder_problems, [("binder/runtime.txt", "python-3.11", "python-3.10")], "outside requires-python"),
    "binder on another Python than the tested one": (
        binder_problems, [("binder/runtime.txt", "python-3.11", "python-3.12")], "tested on 3.11"),
    "the image on another Python than binder": (
        hub_problems, [(D, "ARG PYTHON=3.11", "ARG PYTHON=3.12")], "ARG PYTHON=3.12 is not binder"),
    "the image pins another nbgrader": (
        hub_problems, [(D, "'nbgrader==0.9.6'", "'nbgrader==0.9.5'")], "installs nbgrader==0.9.5"),
    "the image installs another list than binder's": (
        hub_problems, [(D, "--requirement binder/requirements.txt", "--requirement requirements.txt")],
        "not binder's list"),
    "the image copies a student edition that is not there": (
        hub_problems, [(D, "COPY editions/student/notebooks/", "COPY editions/students/notebooks/")],
        "does not exist in the checkout"),
    "the image copies the whole checkout": (
        hub_problems, [(D, "src/ /tmp/vae-mnist/src/", ". /tmp/vae-mnist/")], "instructor/ included"),
    "the build context leaves the student edition out": (
        hub_problems, [("docker/hub/Dockerfile.dockerignore", "!editions/student/notebooks/\n", "")],
        "keeps editions/student/notebooks/ out"),
    "an unpinned base image": (
        hub_problems, [(D, "base-notebook:b74418220768", "base-notebook:latest")], "not pinned"),
    "VAE_DATA_DIR elsewhere than MNIST": (
        hub_problems, [(D, "ENV VAE_DATA_DIR=/opt/vae-mnist/data", "ENV VAE_DATA_DIR=/opt/vae-mnist/mnist")],
        "VAE_DATA_DIR=/opt/vae-mnist/mnist"),
    "a hook that start.sh would source": (
        hub_problems, [(D, "60-copy-vae-mnist-student-edition\n", "60-copy-vae-mnist-student-edition.sh\n")],
        "without .sh"),
    "a lab plugin nbgrader does not have": (
        nbgrader_problems, [(D, "disable --level=sys_prefix @jupyter/nbgrader:formgrader",
                             "disable --level=sys_prefix @jupyter/nbgrader:form-grader")],
        "disable @jupyter/nbgrader:form-grader: the installed nbgrader has no such plugin"),
    "a server extension nbgrader does not have": (
        nbgrader_problems, [(D, "--sys-prefix nbgrader.server_extensions.course_list",
                             "--sys-prefix nbgrader.server_extensions.courselist")],
        "nbgrader.server_extensions.courselist: the installed nbgrader has no such extension"),
    "the students' assignment list turned off, create-assignment left on": (
        nbgrader_problems, [(D, "disable --level=sys_prefix @jupyter/nbgrader:create-assignment",
                             "disable --level=sys_prefix @jupyter/nbgrader:assignment-list")],
        "the students' @jupyter/nbgrader:assignment-list is disabled"),
    "the formgrader's server part left on": (
        nbgrader_problems, [(D, "    jupyter server extension disable --sys-prefix "
                                "nbgrader.server_extensions.formgrader && \\\n", "")],
        "nbgrader.server_extensions.formgrader is not disabled"),
    "a disabled plugin left unlocked": (
        nbgrader_problems, [(D, "lock --level=sys_prefix @jupyter/nbgrader:course-list",
                             "lock --level=sys_prefix @jupyter/nbgrader:formgrader")],
        "course-list is not locked"),
    "a Binder link to the branch, not the release": (
        binder_link_problems, [("docs/teaching.md",
                                "/v0.1.0?urlpath=lab/tree/editions/student/notebooks/01_data",
                                "/main?urlpath=lab/tree/editions/student/notebooks/01_data")],
        "not the release tag v0.1.0"),
    "a Binder link to a notebook that is not there": (
        binder_link_problems, [("docs/teaching.md", "urlpath=lab/tree/editions/student/notebooks/01_data",
                                "urlpath=lab/tree/editions/student/notebooks/01-data")], "does not exist"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_check_finds_a_planted_fault(fault, tmp_path, nbgrader):
    check, faults, expected = FAULTS[fault]
    root = planted(tmp_path, [])
    run = (lambda r: check(r, nbgrader)) if check is nbgrader_problems else check
    assert run(root) == [], "the unchanged copy passes"
    found = run(planted(tmp_path / "faulty", faults))
    assert any(expected in problem for problem in found), found


# --------------------------------------------------------------------------- the image's scripts

def load_write_idx():
    spec = importlib.util.spec_from_file_location("write_idx", ROOT / "docker/hub/write_idx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keras_download(monkeypatch, mnist_dir: Path, corrupt: bool = False) -> None:
    """keras.datasets.mnist.load_data replaced by the real files (no network): the loader's own
    Keras path, checks included, then runs as on the build machine. ``corrupt``: one label changed."""
    import keras

    from vae_machinery import idx_data

    arrays, _ = idx_data._load_from_folder("mnist", mnist_dir)
    labels = arrays["test_labels"].copy()
    if corrupt:
        labels[0] = (labels[0] + 1) % 10
    result = ((arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], labels))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda *args, **kwargs: result)


def test_write_idx_writes_verified_mnist_where_vae_data_dir_points(tmp_path, monkeypatch, mnist_dir):
    """write_idx.py with the Keras download replaced by the real files: the four gzipped IDX files
    decompress to the published bytes, and the notebooks' loader reads them through VAE_DATA_DIR."""
    import vae_helpers as vh
    from vae_machinery import idx_data

    keras_download(monkeypatch, mnist_dir)
    assert load_write_idx().main([str(tmp_path / "data")]) == 0
    for key, filename in idx_data.DATASETS["mnist"]["files"].items():
        raw = gzip.decompress((tmp_path / "data" / "mnist" / f"{filename}.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == idx_data.DATASETS["mnist"]["sha256"][key], filename
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    data = vh.load_dataset("mnist")
    assert data.source == f"folder {tmp_path / 'data' / 'mnist'}"
    assert len(data.x_train) + len(data.x_val) == 60_000 and len(data.x_test) == 10_000


def test_write_idx_writes_nothing_when_the_download_is_wrong(tmp_path, monkeypatch, mnist_dir):
    from vae_machinery.errors import DataError

    keras_download(monkeypatch, mnist_dir, corrupt=True)
    with pytest.raises(DataError, match="Checksum mismatch"):
        load_write_idx().main([str(tmp_path / "data"), "mnist"])
    assert not (tmp_path / "data").exists()
    assert load_write_idx().main([str(tmp_path / "data"), "emnist"]) == 2


@pytest.mark.skipif(shutil.which("bash") is None or sys.platform != "linux",
                    reason="the hook is a Linux bash script")
def test_the_hook_copies_the_student_edition_without_overwriting_a_students_file(tmp_path):
    """copy-student-edition, as the image runs it at each start: new files copied, a student's own
    version of a notebook kept, nothing copied the second time."""
    home = tmp_path / "home" / "vae-mnist"
    (home / "notebooks").mkdir(parents=True)
    (home / "notebooks" / "02_model.ipynb").write_text("the student's answers")
    environ = {**os.environ, "VAE_STUDENT_EDITION": str(ROOT / "editions" / "student"),
               "VAE_STUDENT_HOME_COPY": str(home), "NB_UID": str(os.getuid()), "NB_GID": str(os.getgid())}
    hook = [str(ROOT / "docker/hub/copy-student-edition")]
    first = subprocess.run(hook, env=environ, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    edition = sorted(p.name for p in (ROOT / STUDENT_EDITION).glob("*.ipynb"))
    assert sorted(p.name for p in (home / "notebooks").iterdir()) == edition
    assert f"{len(edition) - 1} new file(s)" in first.stdout
    assert (home / "notebooks" / "02_model.ipynb").read_text() == "the student's answers"
    original = (ROOT / STUDENT_EDITION / "01_data.ipynb").read_bytes()
    assert (home / "notebooks" / "01_data.ipynb").read_bytes() == original
    second = subprocess.run(hook, env=environ, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "0 new file(s)" in second.stdout, second.stdout + second.stderr


@pytest.mark.slow
def test_the_nbgrader_commands_of_the_dockerfile_turn_the_extensions_off(tmp_path):
    """The Dockerfile's jupyter commands, run in a scratch environment made of this one (its packages
    through a .pth file, a copy of its Jupyter config and data): Jupyter then lists the instructor's
    extensions disabled and locked and the students' enabled. (JupyterLab and Jupyter Server of this
    environment, not the image's.)"""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for part in ("etc/jupyter", "share/jupyter"):
        shutil.copytree(Path(sys.prefix, part), env / part)
    environ = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config"),
               "JUPYTER_DATA_DIR": str(tmp_path / "user-data"), "JUPYTER_PLATFORM_DIRS": "1"}
    environ.pop("JUPYTER_PATH", None)
    environ.pop("JUPYTER_CONFIG_PATH", None)
    modules = {"labextension": "jupyterlab.labextensions",
               "server": "jupyter_server.extension.serverextension"}
    for words in run_commands(ROOT):
        if words[:2] == ["jupyter", "labextension"]:
            command = [str(python), "-m", modules["labextension"], *words[2:]]
        elif words[:3] == ["jupyter", "server", "extension"]:
            command = [str(python), "-m", modules["server"], *words[3:]]
        else:
            continue
        done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (words, done.stderr[-2000:])
    page = json.loads((env / "etc/jupyter/labconfig/page_config.json").read_text())
    off = {f"{LAB_PREFIX}{p}" for p in INSTRUCTOR_LAB}
    assert {k for k, v in page["disabledExtensions"].items() if v} == off
    assert {k for k, v in page["lockedExtensions"].items() if v} == off
    listed = subprocess.run([str(python), "-m", modules["server"], "list"], env=environ,
                            capture_output=True, text=True, timeout=300)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    state = dict(re.findall(rf"({re.escape(SERVER_PREFIX)}\w+) (enabled|disabled)", text))
    assert state == {**{f"{SERVER_PREFIX}{e}": "disabled" for e in INSTRUCTOR_SERVER},
                     **{f"{SERVER_PREFIX}{e}": "enabled" for e in STUDENT_SERVER}}, text[-3000:]
