"""Which compose files and which project directory, as Compose v2 finds them."""

from __future__ import annotations

import pytest

from pypod.compose.discovery import check_project_name, find_default_files, resolve_files
from pypod.compose.errors import ComposeError


def test_walks_up_and_takes_the_override(tmp_path):
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / "compose.override.yml").write_text("services: {}\n")
    (tmp_path / "docker-compose.override.yml").write_text("services: {}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    # compose.yaml wins over docker-compose.yml, and its own family's override comes with it
    assert find_default_files(str(deep)) == [str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yml")]


def test_legacy_name_with_its_override(tmp_path):
    (tmp_path / "docker-compose.yaml").write_text("services: {}\n")
    (tmp_path / "docker-compose.override.yaml").write_text("services: {}\n")
    assert find_default_files(str(tmp_path)) == [str(tmp_path / "docker-compose.yaml"),
                                                 str(tmp_path / "docker-compose.override.yaml")]


def test_nothing_found(tmp_path):
    with pytest.raises(ComposeError, match="no configuration file provided: not found") as e:
        find_default_files(str(tmp_path))
    assert e.value.exit_code == 1


def test_compose_file_variable_and_missing_files(tmp_path):
    (tmp_path / "a.yml").write_text("")
    (tmp_path / "b.yml").write_text("")
    env = {"COMPOSE_FILE": "a.yml:b.yml"}
    assert resolve_files([], env, str(tmp_path)) == [str(tmp_path / "a.yml"), str(tmp_path / "b.yml")]
    assert resolve_files([], {"COMPOSE_FILE": "a.yml,b.yml", "COMPOSE_PATH_SEPARATOR": ","},
                         str(tmp_path)) == [str(tmp_path / "a.yml"), str(tmp_path / "b.yml")]
    assert resolve_files(["b.yml"], env, str(tmp_path)) == [str(tmp_path / "b.yml")]  # -f wins
    with pytest.raises(ComposeError, match="no such file or directory"):
        resolve_files(["nope.yml"], {}, str(tmp_path))


def test_explicit_project_names_must_be_normal():
    assert check_project_name("my-app_1") == "my-app_1"
    for bad in ("MyApp", "-x", "a b", ""):
        with pytest.raises(ComposeError, match="invalid project name"):
            check_project_name(bad)


def test_project_directory_is_where_files_are_found(tmp_path):
    """`--project-directory DIR` without -f: Compose v2 finds DIR's compose file, not the cwd's."""
    from pypod.compose.project import ProjectOptions, load_project

    proj, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    proj.mkdir()
    elsewhere.mkdir()
    (proj / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    p = load_project(ProjectOptions(project_directory=str(proj), cwd=str(elsewhere), environ={}))
    assert p.files == [str(proj / "compose.yaml")] and p.name == "proj"
    # -f stays relative to where we stand
    (elsewhere / "other.yaml").write_text("services:\n  b:\n    image: busybox\n")
    p = load_project(ProjectOptions(files=["other.yaml"], project_directory=str(proj), cwd=str(elsewhere),
                                    environ={}))
    assert p.files == [str(elsewhere / "other.yaml")] and list(p.model["services"]) == ["b"]
