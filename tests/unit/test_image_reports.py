"""Image reports as podman's templates and JSON see them (podman's own system tests 010, 020, 110)."""

from __future__ import annotations

import pytest

from pypod import template
from pypod.cli import gostruct
from pypod.cli.image import _history_json
from pypod.store.images import ImageRecord, ImageStore


def test_image_inspect_template_takes_ID_and_Id():
    data = {"Id": "ab" * 32, "Labels": {"a": "b"}}
    t = template.Template("{{.ID}} {{.Id}} {{.Labels.a}} {{.Labels.zz}}")
    assert t.execute(gostruct.image_inspect(data)) == f"{'ab' * 32} {'ab' * 32} b <no value>"


@pytest.mark.parametrize("row", [gostruct.image_inspect({"Id": "x"}), gostruct.ImageReporter({"ID": "x"}),
                                 gostruct.HistoryReporter({"ID": "x"})])
def test_unknown_field_of_a_report_is_an_error_not_no_value(row):
    # a map would print <no value>; podman's reports are structs, so a typo fails (exit 125)
    with pytest.raises(template.TemplateError, match=r"can't evaluate field XYZ in type "
                                                     + type(row).__name__.replace(".", r"\.")):
        template.Template("{{.XYZ}}").execute(row)


def test_image_list_rows_keep_podman_type_names():
    assert type(gostruct.ImageReporter({})).__name__ == "images.imageReporter"
    assert type(gostruct.HistoryReporter({})).__name__ == "images.historyReporter"


def test_default_table_and_table_format_read_struct_rows():
    from pypod.template import render_rows

    rows = [gostruct.ImageReporter({"Repository": "a", "ID": "123"})]
    assert render_rows("table {{.Repository}} {{.ID}}", rows, {"ID": "IMAGE ID"}) == \
        "REPOSITORY  IMAGE ID\na           123\n"


def test_names_history_keeps_removed_names_after_current_ones(tmp_path):
    # podman 010 "images - history output": tag, rmi the tag, the name stays in .History
    store = ImageStore(tmp_path)
    rec = ImageRecord(id="1" * 64, names=["localhost/my:latest"])
    store.save(rec)
    for extra in ("localhost/t1:latest", "localhost/t2:latest"):
        rec.names.append(extra)
        store.save(rec)
        rec.names.remove(extra)
        store.save(rec)
    again = store.get(rec.id)
    assert again.names == ["localhost/my:latest"]
    assert again.names_history == ["localhost/my:latest", "localhost/t2:latest", "localhost/t1:latest"]


def test_history_json_has_podmans_keys():
    h = {"id": "f" * 64, "created": "2022-06-15T12:00:00Z", "created_by": "/bin/sh -c x", "size": 7,
         "comment": ""}
    assert list(_history_json(h)) == ["id", "created", "CreatedBy", "size", "Created"]
    assert _history_json({**h, "comment": "c", "created_by": ""}) == {
        "id": "f" * 64, "created": "2022-06-15T12:00:00Z", "size": 7, "comment": "c",
        "Created": "2022-06-15T12:00:00Z"}
