"""Installing and deploying as the README says: `make install` with a distribution's externally-managed Python,
`surge --version`, and `make deploy` / `make delete`'s STACK and AWS check (no AWS account: no credentials, or a
local moto server)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from surge_cli.main import app
from surge_cli.preflight import check

ROOT = Path(__file__).resolve().parents[1]
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="no make on this machine")

# What a parent `make test` passes its children: a sub-make must not inherit them (its own variables are given).
_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def _make(*arguments: str, env: dict[str, str], timeout_seconds: float = 600) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    clean = {key: value for key, value in env.items() if key not in _MAKE_VARIABLES}
    return subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(ROOT), *arguments],
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        check=False,
    )


# ---------------------------------------------------------------------------------------------- make install


def _system_python() -> tuple[str, dict[str, object]] | None:
    """A distribution's own Python >= 3.11 marked EXTERNALLY-MANAGED (PEP 668), with its venv module, if any."""
    probe = (
        "import json, site, sys, sysconfig, os, importlib.util;"
        "print(json.dumps({'version': sys.version_info[:2], 'prefix': sys.prefix,"
        "'managed': os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')),"
        "'ensurepip': importlib.util.find_spec('ensurepip') is not None,"
        "'site': [*site.getsitepackages(), site.getusersitepackages(), os.path.join(site.getuserbase(), 'bin')]}))"
    )
    for candidate in ("/usr/bin/python3.11", "/usr/bin/python3.12", "/usr/bin/python3.13", "/usr/bin/python3"):
        if not Path(candidate).exists():
            continue
        found = subprocess.run([candidate, "-I", "-c", probe], capture_output=True, text=True, check=False)
        if found.returncode != 0:
            continue
        facts = json.loads(found.stdout)
        if tuple(facts["version"]) >= (3, 11) and facts["managed"] and facts["ensurepip"]:
            return candidate, facts
    return None


SYSTEM_PYTHON = _system_python()


def _listing(directories: list[str]) -> dict[str, list[str]]:
    return {d: sorted(os.listdir(d)) if os.path.isdir(d) else [] for d in directories}


def _run(*command: str | Path) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return (done.stdout + done.stderr).strip()


@needs_make
@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no externally-managed (PEP 668) system Python >= 3.11 here")
def test_make_install_with_an_externally_managed_system_python_leaves_it_untouched(tmp_path: Path) -> None:
    assert SYSTEM_PYTHON is not None
    python, facts = SYSTEM_PYTHON
    site_directories = [str(d) for d in facts["site"]]  # type: ignore[attr-defined]
    before = _listing(site_directories)
    venv, tools = tmp_path / "venv", tmp_path / "tools"
    # The real `make install` (system-deps, the uv bootstrap, .venv, the sam and checkov venvs) into tmp_path;
    # uv's cache is the user's, so this is mostly copying. Bytecode compilation off only to keep it quick.
    installed = _make(
        "install",
        f"PYTHON={python}",
        f"VENV={venv}",
        f"TOOLS={tools}",
        "UV_COMPILE_BYTECODE=0",
        env=dict(os.environ),
        timeout_seconds=1_800,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "externally-managed-environment" not in installed.stderr

    bootstraps = list(tools.glob("uv-*/bin/uv"))
    assert len(bootstraps) == 1, "the bootstrap venv holds uv"
    venvs = [venv, tools / "sam", tools / "checkov", bootstraps[0].parents[1]]
    for made in venvs:
        base = _run(made / "bin" / "python", "-c", "import sys; print(sys.base_prefix)")
        assert base == facts["prefix"], f"{made} is built on {base}, not on {python}"
    assert _run(venv / "bin" / "surge", "--version") == f"surge {PROJECT_VERSION}"
    assert "1.170.0" in _run(tools / "sam" / "bin" / "sam", "--version")
    assert "3.3.30" in _run(tools / "checkov" / "bin" / "checkov", "--version")

    assert _listing(site_directories) == before, "the system interpreter's site-packages changed"
    no_uv = subprocess.run([python, "-I", "-c", "import uv"], capture_output=True, text=True, check=False)
    assert no_uv.returncode != 0, "uv was installed into the system interpreter"


# ---------------------------------------------------------------------------------------------- surge --version


def test_surge_version_is_one_line_from_the_installed_package() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"surge {version('surge-autoscaler')}\n"
    assert version("surge-autoscaler") == PROJECT_VERSION


# --------------------------------------------------------------------------------------- make deploy / delete


def _no_aws(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with nothing AWS in it: no variables, no ~/.aws, no instance metadata to ask."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path / "home"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    env.update(extra)
    return env


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@needs_make
@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "error: no AWS region: set AWS_DEFAULT_REGION"),
        (CREDENTIALS, "error: no AWS region: set AWS_DEFAULT_REGION"),
        ({**CREDENTIALS, "AWS_REGION": "eu-west-1"}, "error: no AWS region: set AWS_DEFAULT_REGION"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "error: no AWS credentials: set AWS_PROFILE"),
        ({"AWS_DEFAULT_REGION": "eu-west-1", "AWS_PROFILE": "nowhere"}, "error: AWS_PROFILE='nowhere' is not a"),
    ],
    ids=["nothing", "no-region", "aws-region-only", "no-credentials", "unknown-profile"],
)
def test_make_deploy_without_region_or_credentials_is_one_line(
    tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    env = _no_aws(tmp_path, **variables)
    done = _make("deploy", "STACK=staging", env=env)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if not line.startswith("make")]
    assert len(ours) == 1, done.stderr
    assert ours[0].startswith(expected), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "sam" not in done.stdout, "it went on to build or deploy"


@needs_make
def test_make_deploy_names_both_missing_in_one_line(tmp_path: Path) -> None:
    done = _make("aws-check", env=_no_aws(tmp_path))
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if not line.startswith("make")]
    assert len(ours) == 1, done.stderr
    assert "no AWS region" in ours[0]
    assert "no AWS credentials" in ours[0]


@needs_make
def test_make_deploy_refuses_a_stack_name_cloudformation_refuses(tmp_path: Path) -> None:
    done = _make("deploy", "STACK=my_stack", env=_no_aws(tmp_path, AWS_DEFAULT_REGION="eu-west-1", **CREDENTIALS))
    assert done.returncode != 0
    assert done.stderr.splitlines()[0] == (
        "error: STACK: 'my_stack' is not a CloudFormation stack name (a letter, then letters, digits or hyphens;"
        " 1-128 characters)"
    )


@needs_make
def test_make_deploy_when_aws_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    # Port 1 on this machine: the connection is refused at once, nothing leaves it.
    env = _no_aws(tmp_path, AWS_DEFAULT_REGION="eu-west-1", AWS_ENDPOINT_URL="http://127.0.0.1:1", **CREDENTIALS)
    done = _make("aws-check", env=env)
    assert done.returncode != 0
    assert done.stderr.splitlines()[0].startswith("error: cannot reach AWS at http://127.0.0.1:1")
    assert "Traceback" not in done.stderr
    alone = subprocess.run(
        [sys.executable, "-m", "surge_cli.preflight", "--stack", "staging"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert alone.returncode == 1, "an AWS-side failure exits 1 (setup problems exit 2)"
    assert alone.stderr.count("\n") == 1


def test_the_check_names_who_deploys_where(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in _no_aws(tmp_path, AWS_DEFAULT_REGION="eu-west-1", **CREDENTIALS).items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        code, line = check("staging")
    assert (code, line) == (0, "stack staging in eu-west-1 as arn:aws:sts::123456789012:user/moto")


@needs_make
@pytest.mark.parametrize(("stack", "expected"), [(None, "surge"), ("staging", "staging")])
def test_stack_names_the_stack_and_its_s3_prefix(tmp_path: Path, stack: str | None, expected: str) -> None:
    for target in ("deploy", "delete"):
        planned = _make("-n", target, *([f"STACK={stack}"] if stack else []), env=_no_aws(tmp_path))
        assert planned.returncode == 0, planned.stderr
        sam = [line for line in planned.stdout.splitlines() if f"/sam {target} " in line]
        assert len(sam) == 1, planned.stdout
        assert f"--stack-name {expected} --s3-prefix {expected}" in sam[0]
        assert f"preflight --stack {expected}" in planned.stdout
    samconfig = tomllib.loads((ROOT / "infra" / "samconfig.toml").read_text())
    named = [key for section in samconfig["default"].values() for key in section["parameters"]]
    assert "stack_name" not in named, "per-stack names belong to make's STACK"
    assert "s3_prefix" not in named, "per-stack names belong to make's STACK"


@pytest.fixture
def moto_server(tmp_path: Path) -> Iterator[str]:
    """A moto server on a free local port (its own process: its backends are not the tests' in-process ones)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # only a bound on a hung start; readiness is polled, not timed
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {(tmp_path / 'moto.log').read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


@needs_make
def test_make_delete_stack_deletes_that_stack_only(tmp_path: Path, moto_server: str) -> None:
    env = _no_aws(tmp_path, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=moto_server, **CREDENTIALS)
    # SAM checks PyPI for a newer version once a week, remembered in its app folder: checked just now.
    sam_home = tmp_path / "sam-home"
    sam_home.mkdir()
    (sam_home / "metadata.json").write_text(json.dumps({"lastVersionCheck": time.time()}))
    env["__SAM_CLI_APP_DIR"] = str(sam_home)
    cloudformation = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    for name in ("surge", "staging"):
        cloudformation.create_stack(StackName=name, TemplateBody=template)

    done = _make("delete", "STACK=staging", env=env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "stack staging in us-east-1 as arn:aws:sts::123456789012:user/moto" in done.stdout
    alive = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert alive == {"surge"}
